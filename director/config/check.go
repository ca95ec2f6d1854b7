package config

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CheckTypes are the health check types a service or realserver may use.
var CheckTypes = []string{"http", "https", "tcp", "ping", "udp", "dns", "external", "none", "on", "off"}

// defaultCheck is what a service gets without a check key: a TCP connect
// for TCP services, none (always up) otherwise, since UDP and SCTP have no
// protocol-neutral probe.
func defaultCheck(s Service) Check {
	c := Check{Type: "none", Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2, Initial: "up",
		RetryInterval: defaultRetryInterval}
	if s.Protocol == "tcp" {
		c.Type = "tcp"
	}
	return c
}

// resolveCheck lays the keys set in raw over base and validates the
// result. A realserver's check is laid over its service's, so a real names
// only what differs.
func resolveCheck(path string, base Check, raw *rawCheck, r reporter) Check {
	c := overlay(base, raw)
	if raw != nil && raw.Address != "" {
		c.Address = parseAddr(r, path+".address", raw.Address)
	}
	if raw != nil && raw.Source != "" {
		c.Source = parseAddr(r, path+".source", raw.Source)
	}
	if !slices.Contains(CheckTypes, c.Type) {
		r.at(path+".type", "%q is not a check type (%v)", c.Type, CheckTypes)
	}
	checkTiming(r, path, c.Interval, c.Timeout)
	c.RetryInterval = resolveRetry(r, path, c, raw)
	inRange(r, path+".rise", c.Rise, 1, 100)
	inRange(r, path+".fall", c.Fall, 1, 100)
	if raw != nil && raw.Port != nil {
		inRange(r, path+".port", c.Port, 1, 65535)
	}
	if raw != nil && raw.Status != nil && len(raw.Status) == 0 {
		r.at(path+".expect_status", "an empty list accepts no answer: list the codes, or remove the key for [200]")
	}
	if c.Initial != "up" && c.Initial != "down" {
		r.at(path+".initial", "%q is not up or down", c.Initial)
	}
	checkTypeKeys(path, c, r)
	checkApplies(path, c.Type, raw, r)
	return c
}

// typeKeys are the check keys that only some types read, with those
// types. Written for another type, such a key would be silently ignored.
var typeKeys = []struct {
	key   string
	types []string
	set   func(*rawCheck) bool
}{
	{"method", []string{"http", "https"}, func(c *rawCheck) bool { return c.Method != "" }},
	{"path", []string{"http", "https"}, func(c *rawCheck) bool { return c.Path != "" }},
	{"host", []string{"http", "https"}, func(c *rawCheck) bool { return c.Host != "" }},
	{"expect_status", []string{"http", "https"}, func(c *rawCheck) bool { return c.Status != nil }},
	{"expect_body", []string{"http", "https"}, func(c *rawCheck) bool { return c.Body != "" }},
	{"expect_regex", []string{"http", "https"}, func(c *rawCheck) bool { return c.BodyRegex != "" }},
	{"tls_verify", []string{"https"}, func(c *rawCheck) bool { return c.TLSVerify != nil }},
	{"sni", []string{"https"}, func(c *rawCheck) bool { return c.ServerName != "" }},
	{"send", []string{"tcp", "udp"}, func(c *rawCheck) bool { return c.Send != "" }},
	{"expect", []string{"tcp", "udp"}, func(c *rawCheck) bool { return c.Expect != "" }},
	{"query", []string{"dns"}, func(c *rawCheck) bool { return c.Query != "" }},
	{"query_type", []string{"dns"}, func(c *rawCheck) bool { return c.QueryType != "" }},
	{"command", []string{"external"}, func(c *rawCheck) bool { return c.Command != nil }},
	{"port", []string{"http", "https", "tcp", "udp", "dns", "external"}, func(c *rawCheck) bool { return c.Port != nil }},
}

// checkApplies refuses a key written here for a check type that does not
// read it ("path" in a tcp check). A key inherited from the service's
// check is fine: a realserver may change the type and leave the rest.
func checkApplies(path, typ string, raw *rawCheck, r reporter) {
	if raw == nil || !slices.Contains(CheckTypes, typ) {
		return
	}
	for _, k := range typeKeys {
		if k.set(raw) && !slices.Contains(k.types, typ) {
			r.at(path+"."+k.key, "does not apply to a %s check (only %s): remove it, or set the type", typ, strings.Join(k.types, ", "))
		}
	}
}

func overlay(c Check, raw *rawCheck) Check {
	if raw == nil {
		return c
	}
	setStr(&c.Type, raw.Type)
	setStr(&c.Initial, raw.Initial)
	setStr(&c.Method, raw.Method)
	setStr(&c.Path, raw.Path)
	setStr(&c.Host, raw.Host)
	setStr(&c.Body, raw.Body)
	setStr(&c.BodyRegex, raw.BodyRegex)
	setStr(&c.ServerName, raw.ServerName)
	setStr(&c.Send, raw.Send)
	setStr(&c.Expect, raw.Expect)
	setStr(&c.Query, raw.Query)
	setStr(&c.QueryType, raw.QueryType)
	c.Interval = durOr(raw.Interval, c.Interval)
	c.Timeout = durOr(raw.Timeout, c.Timeout)
	c.Rise = intOr(raw.Rise, c.Rise)
	c.Fall = intOr(raw.Fall, c.Fall)
	c.RetryInterval = durOr(raw.Retry, c.RetryInterval)
	if raw.Port != nil {
		c.Port = *raw.Port
	}
	if raw.Status != nil {
		c.Status = raw.Status
	}
	if raw.Command != nil {
		c.Command = raw.Command
	}
	if raw.TLSVerify != nil {
		c.TLSVerify = *raw.TLSVerify
	}
	return c
}

func setStr(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func parseAddr(r reporter, path, s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		r.at(path, "%q is not an IP address", s)
	}
	return a
}

// checkTypeKeys validates the keys specific to one check type, and fills in
// that type's defaults.
func checkTypeKeys(path string, c Check, r reporter) {
	switch c.Type {
	case "http", "https":
		if c.Method != "" && !slices.Contains([]string{"GET", "HEAD", "POST", "OPTIONS"}, c.Method) {
			r.at(path+".method", "%q is not GET, HEAD, POST or OPTIONS", c.Method)
		}
		if c.Path != "" && c.Path[0] != '/' {
			r.at(path+".path", "%q must start with /", c.Path)
		}
		for i, code := range c.Status {
			inRange(r, idx(path+".expect_status", i), code, 100, 599)
		}
		if c.Body != "" && c.BodyRegex != "" {
			r.at(path+".expect_regex", "set expect_body or expect_regex, not both")
		}
		if _, err := regexp.Compile(c.BodyRegex); err != nil {
			r.at(path+".expect_regex", "%v", err)
		}
	case "udp":
		if c.Send == "" {
			r.at(path+".send", "a udp check needs send: a datagram that the server answers")
		}
	case "dns":
		if c.Query == "" {
			r.at(path+".query", "a dns check needs query: the name to resolve")
		}
		if c.QueryType != "" && !slices.Contains([]string{"A", "AAAA", "CNAME", "MX", "NS", "SOA", "SRV", "TXT"}, c.QueryType) {
			r.at(path+".query_type", "%q is not A, AAAA, CNAME, MX, NS, SOA, SRV or TXT", c.QueryType)
		}
	case "external":
		if len(c.Command) == 0 || c.Command[0] == "" {
			r.at(path+".command", "an external check needs command: the program and its arguments, as a list")
		}
	}
}

// defaultRetryInterval is how soon a failed check of an up realserver
// runs again by default: a dead realserver with fall 3 is out about 200 ms
// after its first failed check instead of two intervals later, while a
// blip shorter than that (a full accept queue, a worker restarting) still
// does not take it out.
const defaultRetryInterval = 100 * time.Millisecond

// resolveRetry validates a retry interval set here and bounds an
// inherited or default one by the interval: a realserver that checks
// every 50ms has no use for retries 100ms apart, and says nothing wrong.
func resolveRetry(r reporter, path string, c Check, raw *rawCheck) time.Duration {
	if raw != nil && raw.Retry != nil {
		durRange(r, path+".retry_interval", c.RetryInterval, 10*time.Millisecond, max(c.Interval, 10*time.Millisecond))
	}
	return min(c.RetryInterval, c.Interval)
}

// needsPort reports whether a check type talks to a port.
func needsPort(t string) bool {
	return slices.Contains([]string{"http", "https", "tcp", "udp", "dns"}, t)
}
