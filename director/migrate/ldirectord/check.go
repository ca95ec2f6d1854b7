package ldirectord

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/lvsd/lvsd/director/migrate"
)

// servicesByPort is ldirectord's default service for a virtual port.
var servicesByPort = map[uint16]string{
	21: "ftp", 25: "smtp", 53: "dns", 80: "http", 110: "pop", 119: "nntp", 143: "imap", 389: "ldap", 443: "https",
	587: "submission", 636: "ldaps", 993: "imaps", 995: "pops", 1521: "oracle", 1812: "radius", 3128: "http_proxy",
	3306: "mysql", 5432: "pgsql", 5060: "sip",
}

// check translates the section's checktype and service into the service's
// check; negotiate reports whether request and receive matter.
func (t *translator) check(v *virtual, s *migrate.Service, vport uint16) (*migrate.Check, bool) {
	ct := "negotiate"
	if v.checktype != nil {
		ct = strings.ToLower(unquote(v.checktype.value))
		t.ok()
	}
	svc := servicesByPort[vport]
	if svc == "" {
		svc = "none"
	}
	if v.service != nil {
		svc = strings.ToLower(unquote(v.service.value))
		t.ok()
	}
	if _, err := strconv.Atoi(ct); err == nil || strings.HasPrefix(ct, "checktimeout") {
		if v.checktype != nil {
			t.find(*v.checktype, false, "lvsd does not alternate connect and negotiate checks", "every check negotiates")
		}
		ct = "negotiate"
	}
	c := &migrate.Check{Rise: 1, Fall: v.failureCount, Initial: "up"}
	c.Interval, c.Timeout = t.timing(v, ct == "negotiate")
	if c.Fall > 1 {
		c.Retry = c.Interval // ldirectord counts failures of its regular rounds
	}
	if v.checkport != nil {
		if p, err := strconv.Atoi(unquote(v.checkport.value)); err == nil && p > 0 && p < 65536 {
			c.Port = p
			t.ok()
		} else {
			t.find(*v.checkport, true, fmt.Sprintf("%q is not a port", v.checkport.value), "the real's port is checked")
		}
	}
	switch ct {
	case "on", "off":
		if v.checkport != nil {
			t.find(*v.checkport, false, "checktype "+ct+" checks nothing", "left out")
		}
		return &migrate.Check{Type: ct}, false
	case "connect":
		c.Type = "tcp"
		if s.Protocol == "udp" {
			c.Type = "ping" // ldirectord's connect check for UDP is a ping
		}
	case "ping":
		c.Type = "ping"
	case "external", "external-perl":
		c.Type = "external"
		c.Command = t.externalCommand(v, s, vport)
		if ct == "external-perl" {
			t.find(*v.checktype, false, "lvsd runs the command as a program, not inside Perl", "the same script, run with exec")
		}
	case "negotiate":
		t.negotiate(v, c, svc)
		c.Prune(c.Type)
		return c, true
	default:
		t.find(*v.checktype, true, fmt.Sprintf("%q is not an ldirectord checktype", ct), "a tcp connect check")
		c.Type = "tcp"
	}
	c.Prune(c.Type)
	return c, false
}

// negotiate translates a negotiate check of a service.
func (t *translator) negotiate(v *virtual, c *migrate.Check, svc string) {
	request, receive := "", ""
	if v.request != nil {
		request = unquote(v.request.value)
	}
	if v.receive != nil {
		receive = unquote(v.receive.value)
	}
	at := v.head
	if v.service != nil {
		at = *v.service
	}
	switch svc {
	case "http", "https":
		c.Type = svc
		c.Status = http2xx()
		t.httpRequest(v, c, request, receive)
		return
	case "simpletcp":
		c.Type = "tcp"
		c.Send = strings.ReplaceAll(request, `\n`, "\n")
		c.Expect = t.literal(v.receive, receive)
	case "dns":
		c.Type = "dns"
		c.Query, c.QType = request, "A"
		if _, err := netip.ParseAddr(request); err == nil || request == "" {
			c.Query = "."
			t.find(at, true, "lvsd's dns check asks for A records, not PTR", "it asks for the root's A record: an answer of any kind is up")
		}
		if receive != "" {
			t.find(*v.receive, true, "lvsd's dns check does not compare the answer", "any answer is up")
		}
	case "none":
		c.Type = "none"
	default:
		c.Type = "tcp"
		t.find(at, true, "lvsd has no "+svc+" check", "a tcp connect check")
	}
	t.countRequest(v, c.Type == "tcp" && svc == "simpletcp" || c.Type == "dns")
}

// countRequest counts request and receive as translated, or reports them.
func (t *translator) countRequest(v *virtual, used bool) {
	for _, l := range []*line{v.request, v.receive} {
		if l == nil {
			continue
		}
		if used {
			t.ok()
		} else if !t.reported(l) {
			t.find(*l, false, "not used by this check type", "left out")
		}
	}
}

func (t *translator) reported(l *line) bool {
	for _, f := range t.res.Findings {
		if f.Line == l.no {
			return true
		}
	}
	return false
}

func http2xx() []int {
	var s []int
	for c := 200; c <= 299; c++ {
		s = append(s, c)
	}
	return s
}

// httpRequest sets path, body regular expression, method and host.
func (t *translator) httpRequest(v *virtual, c *migrate.Check, request, receive string) {
	c.Path = "/"
	if request != "" {
		if u, err := url.Parse(request); err == nil && u.Scheme != "" {
			t.find(*v.request, true, "an absolute request URL makes ldirectord check its host instead of the realserver", "lvsd checks the realserver's "+u.Path)
			c.Path = u.Path
		} else {
			c.Path = "/" + strings.TrimPrefix(request, "/")
			t.ok()
		}
	}
	if receive != "" {
		if _, err := regexp.Compile(receive); err != nil {
			t.find(*v.receive, true, "not a Go regular expression: "+err.Error(), "the body is not checked")
		} else {
			c.Regex = receive
			t.ok()
		}
	}
	if v.httpmethod != nil {
		m := strings.ToUpper(unquote(v.httpmethod.value))
		if m == "GET" || m == "HEAD" {
			c.Method = m
			t.ok()
		} else {
			t.find(*v.httpmethod, true, fmt.Sprintf("%q is not GET or HEAD", m), "GET")
		}
	}
	if v.virtualhost != nil {
		c.Host = unquote(v.virtualhost.value)
		t.ok()
	}
}

// literal turns a receive regular expression into lvsd's substring, when
// it is one.
func (t *translator) literal(l *line, re string) string {
	if re == "" || !regexMeta.MatchString(re) {
		return re
	}
	t.find(*l, true, "lvsd's tcp check looks for a plain string, and this is a regular expression", "the reply is not checked")
	return ""
}

// externalCommand runs checkcommand as ldirectord does, with the virtual
// address, the virtual port, the real address and the real port. lvsd
// appends the last two itself, so the command goes through /bin/sh.
func (t *translator) externalCommand(v *virtual, s *migrate.Service, vport uint16) []string {
	cmd := "/bin/true"
	if v.checkcmd != nil {
		cmd = unquote(v.checkcmd.value)
		t.ok()
	}
	vip := fmt.Sprint(s.FWMark)
	if s.FWMark == 0 {
		vip = netip.MustParseAddrPort(s.Virtual).Addr().String()
	}
	return []string{"/bin/sh", "-c", fmt.Sprintf(`exec %s %s %d "$1" "$2"`, cmd, vip, vport), "ldirectord-check"}
}
