package keepalived

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/kaconf"
)

// checkerKeywords are keepalived's health checkers.
var checkerKeywords = map[string]string{
	"TCP_CHECK": "tcp", "HTTP_GET": "http", "SSL_GET": "https", "MISC_CHECK": "external",
	"DNS_CHECK": "dns", "PING_CHECK": "ping", "UDP_CHECK": "udp", "SMTP_CHECK": "tcp",
	"FILE_CHECK": "", "BFD_CHECK": "",
}

// realKeys reads a real_server's block into r.
func (t *translator) realKeys(n *kaconf.Node, v *vs, r *realInfo) {
	d := v.def
	var checkers []*kaconf.Node
	for _, c := range n.Block {
		if _, ok := checkerKeywords[c.Keyword]; ok {
			checkers = append(checkers, c)
			continue
		}
		switch c.Keyword {
		case "weight":
			w, ok := t.intArg(c, 0, 0, 65535)
			if !ok {
				continue
			}
			r.weight = w
		case "lvs_method":
			f, ok := t.forwarding(c)
			if !ok {
				continue
			}
			r.forward = f
		case "uthreshold":
			u, ok := t.intArg(c, 0, 0, 65535)
			if !ok {
				continue
			}
			r.upper = u
		case "lthreshold":
			l, ok := t.intArg(c, 0, 0, 65535)
			if !ok {
				continue
			}
			r.lower = l
		case "inhibit_on_failure":
			r.inhibit = boolArg(c)
		case "alpha":
			d.alpha = boolArg(c)
		case "virtualhost":
			d.virtualhost = arg(c, 0)
		case "retry":
			x, ok := t.intArg(c, 0, 0, 1000)
			if !ok {
				continue
			}
			d.retry = x
		case "delay_loop", "connect_timeout", "delay_before_retry":
			x, ok := t.secondsArg(c, 0)
			if !ok {
				continue
			}
			*map[string]*time.Duration{"delay_loop": &d.delayLoop, "connect_timeout": &d.connectTimeout, "delay_before_retry": &d.delayBeforeRetry}[c.Keyword] = time.Duration(x)
		case "notify_up", "notify_down":
			t.drop(c, false, "lvsd has one notify.command for every change (realserver SERVICE REAL up|down)", "left out")
			continue
		case "smtp_alert", "snmp_name", "warmup":
			t.drop(c, false, "no lvsd counterpart", "")
			continue
		default:
			t.unknown(c, "real_server")
			continue
		}
		t.ok(c)
	}
	if r.lower > 0 && r.upper == 0 {
		r.lower = 0
		t.res.Findings.Add(n.File, n.Line, "lthreshold", false, "a lower threshold needs an upper one (the kernel refuses it alone)", "left out")
	}
	r.check = t.checks(checkers, d, r)
}

// checks translates a real server's checkers. keepalived requires every
// checker to pass; lvsd runs one check per realserver. Without a checker
// keepalived keeps the realserver in service.
func (t *translator) checks(cs []*kaconf.Node, d vsDefaults, r *realInfo) migrate.Check {
	if len(cs) == 0 {
		return migrate.Check{Type: "none"}
	}
	for _, extra := range cs[1:] {
		t.drop(extra, true, "lvsd runs one check per realserver, keepalived required all of them to pass", "left out; "+cs[0].Keyword+" is kept")
	}
	return t.checker(cs[0], d, r)
}

// checker translates one checker block with the defaults of its real
// server and virtual server.
func (t *translator) checker(n *kaconf.Node, d vsDefaults, r *realInfo) migrate.Check {
	typ := checkerKeywords[n.Keyword]
	if typ == "" {
		t.drop(n, true, "lvsd has no "+n.Keyword, "left out: the realserver is never taken out")
		return migrate.Check{Type: "none"}
	}
	t.ok(n)
	c := migrate.Check{Type: typ}
	retry := map[string]int{"MISC_CHECK": 0, "DNS_CHECK": 3}[n.Keyword]
	if _, ok := map[string]bool{"MISC_CHECK": true, "DNS_CHECK": true}[n.Keyword]; !ok {
		retry = 1
	}
	if d.retry >= 0 {
		retry = d.retry
	}
	delayBeforeRetry := time.Second
	if d.delayBeforeRetry >= 0 {
		delayBeforeRetry = d.delayBeforeRetry
	}
	var timeoutNode *kaconf.Node
	ck := checkerState{check: &c, defs: &d, retry: &retry, delayBeforeRetry: &delayBeforeRetry, timeout: &timeoutNode}
	for _, x := range n.Block {
		if t.commonCheckKey(x, ck) {
			t.ok(x)
			continue
		}
		t.typeKey(n.Keyword, x, &c)
	}
	t.finishType(n, &c, d)
	c.Interval = migrate.Duration(max(d.delayLoop, 10*time.Millisecond))
	if c.Timeout == 0 {
		c.Timeout = migrate.Duration(d.connectTimeout)
	}
	if c.Timeout > c.Interval {
		// keepalived waits delay_loop after a check ends; lvsd starts one
		// every interval and bounds it by that.
		at := n
		if timeoutNode != nil {
			at = timeoutNode
		}
		t.res.Findings.Add(at.File, at.Line, "connect_timeout", false,
			fmt.Sprintf("lvsd bounds a check by its interval, and the timeout %v is longer than delay_loop %v", time.Duration(c.Timeout), time.Duration(c.Interval)),
			"interval raised to the timeout: a slow answer still counts, failures are seen later")
		c.Interval = c.Timeout
	}
	// keepalived retries a failed check retry times, delay_before_retry
	// apart, before it takes the realserver out: lvsd's fall and
	// retry_interval.
	c.Rise, c.Fall = 1, min(retry+1, 100)
	if c.Fall > 1 {
		ri := min(max(delayBeforeRetry, 10*time.Millisecond), time.Duration(c.Interval))
		c.Retry = migrate.Duration(ri)
		if ri != delayBeforeRetry && t.once(n.Keyword+fmt.Sprint(retry, delayBeforeRetry, d.delayLoop)) {
			t.res.Findings.Add(n.File, n.Line, "delay_before_retry", false,
				fmt.Sprintf("lvsd retries between 10ms and the interval apart, not %v", delayBeforeRetry), "retry_interval "+ri.String())
		}
	}
	c.Initial = "up"
	if d.alpha {
		c.Initial = "down"
	}
	if c.Port != 0 && (c.Type == "ping" || c.Type == "none") {
		t.res.Findings.Add(n.File, n.Line, "connect_port", false, "a "+c.Type+" check has no port", "left out, as "+n.Keyword+" ignores it")
	}
	c.Prune(c.Type)
	return c
}

// checkerState is what the common checker keys change.
type checkerState struct {
	check            *migrate.Check
	defs             *vsDefaults
	retry            *int
	delayBeforeRetry *time.Duration
	timeout          **kaconf.Node
}

// commonCheckKey handles the keys every checker has, and reports whether
// x was one.
func (t *translator) commonCheckKey(x *kaconf.Node, ck checkerState) bool {
	c := ck.check
	switch x.Keyword {
	case "connect_ip":
		a, err := netip.ParseAddr(arg(x, 0))
		if err != nil {
			t.dropf(x, true, "left out", "%q is not an address", arg(x, 0))
			return false
		}
		c.Address = a.String()
	case "connect_port":
		p, ok := t.intArg(x, 0, 1, 65535)
		if !ok {
			return false
		}
		c.Port = p
	case "bindto":
		a, err := netip.ParseAddr(arg(x, 0))
		if err != nil {
			t.dropf(x, true, "left out", "%q is not an address", arg(x, 0))
			return false
		}
		c.Source = a.String()
	case "connect_timeout":
		d, ok := t.secondsArg(x, 0)
		if !ok {
			return false
		}
		c.Timeout, *ck.timeout = d, x
	case "retry", "nb_get_retry":
		r, ok := t.intArg(x, 0, 0, 1000)
		if !ok {
			return false
		}
		*ck.retry = r
	case "delay_before_retry", "delay_loop":
		d, ok := t.secondsArg(x, 0)
		if !ok {
			return false
		}
		if x.Keyword == "delay_loop" {
			ck.defs.delayLoop = time.Duration(d)
		} else {
			*ck.delayBeforeRetry = time.Duration(d)
		}
	case "alpha":
		ck.defs.alpha = boolArg(x)
	case "bind_port", "bind_if", "warmup", "log_all_failures":
		t.drop(x, false, "no lvsd counterpart", "the kernel picks the source port and interface; checks start at once")
		return false
	case "fwmark":
		t.drop(x, true, "lvsd does not mark check packets", "left out: the check follows the main routing table")
		return false
	default:
		return false
	}
	return true
}

// typeKey handles a checker's own keys.
func (t *translator) typeKey(checker string, x *kaconf.Node, c *migrate.Check) {
	switch {
	case (checker == "HTTP_GET" || checker == "SSL_GET") && x.Keyword == "url":
		t.url(x, c)
		return
	case (checker == "HTTP_GET" || checker == "SSL_GET") && x.Keyword == "virtualhost":
		if c.Host == "" {
			c.Host = arg(x, 0)
		}
	case (checker == "HTTP_GET" || checker == "SSL_GET") && (x.Keyword == "http_protocol" || x.Keyword == "enable_sni" || x.Keyword == "fast_recovery"):
		t.drop(x, false, "lvsd's http check speaks HTTP/1.1 and sends the host as SNI", "left out")
		return
	case checker == "MISC_CHECK" && x.Keyword == "misc_path":
		cmd, ok := miscCommand(x)
		if !ok {
			t.drop(x, true, "the command line has an unmatched quote", "left out")
			return
		}
		c.Command = cmd
	case checker == "MISC_CHECK" && x.Keyword == "misc_timeout":
		d, ok := t.secondsArg(x, 0)
		if !ok {
			return
		}
		c.Timeout = d
	case checker == "MISC_CHECK" && x.Keyword == "misc_dynamic":
		t.drop(x, true, "lvsd does not set weights from a check's exit status", "left out: exit 0 is up, anything else down")
		return
	case checker == "MISC_CHECK" && x.Keyword == "user":
		t.drop(x, false, "lvsd runs checks as itself", "left out")
		return
	case checker == "DNS_CHECK" && x.Keyword == "type":
		c.QType = strings.ToUpper(arg(x, 0))
	case checker == "DNS_CHECK" && x.Keyword == "name":
		c.Query = arg(x, 0)
	case checker == "UDP_CHECK" && (x.Keyword == "payload" || x.Keyword == "require_reply"):
		b, err := hex.DecodeString(strings.Join(x.Args, ""))
		if err != nil {
			t.dropf(x, true, "left out", "%q is not hexadecimal", strings.Join(x.Args, ""))
			return
		}
		if x.Keyword == "payload" {
			c.Send = string(b)
		} else {
			c.Expect = string(b)
			c.Method = "require_reply" // marker, cleared in finishType
		}
	case checker == "SMTP_CHECK" && x.Keyword == "helo_name":
	case checker == "SMTP_CHECK" && x.Keyword == "host":
		if c.Path == "" { // marker: the first host block sets the target
			c.Path = "host"
			for _, h := range x.Block {
				if t.commonCheckKey(h, checkerState{check: c, defs: &vsDefaults{}, retry: new(int), delayBeforeRetry: new(time.Duration), timeout: new(*kaconf.Node)}) {
					t.ok(h)
				} else if !t.handled[h] {
					t.unknown(h, "SMTP_CHECK host")
				}
			}
		} else {
			t.drop(x, true, "lvsd checks one address per realserver", "left out: only the first host is checked")
			return
		}
	default:
		t.unknown(x, checker)
		return
	}
	t.ok(x)
}

// finishType checks what a type needs once its block is read.
func (t *translator) finishType(n *kaconf.Node, c *migrate.Check, d vsDefaults) {
	switch n.Keyword {
	case "HTTP_GET", "SSL_GET":
		if c.Path == "" {
			t.drop(n, true, "no url with a path; keepalived ignores such a checker", "the realserver is never taken out")
			*c = migrate.Check{Type: "none"}
			return
		}
		if c.Host == "" && d.virtualhost != "" {
			c.Host = d.virtualhost
		}
	case "UDP_CHECK":
		required := c.Method == "require_reply"
		c.Method = ""
		if !required || c.Send == "" {
			t.drop(n, true, "keepalived's UDP_CHECK without require_reply and payload passes unless an ICMP error comes back; lvsd's udp check sends a payload and needs a reply",
				"check none: the realserver is never taken out")
			*c = migrate.Check{Type: "none"}
		}
	case "SMTP_CHECK":
		c.Path = ""
		c.Expect = "220"
		t.res.Findings.Add(n.File, n.Line, "SMTP_CHECK", true, "lvsd has no SMTP dialogue (HELO, QUIT)", "a tcp check that expects the 220 greeting")
	case "DNS_CHECK":
		if c.QType == "" {
			c.QType = "SOA" // keepalived's default
		}
		if c.Query == "" {
			c.Query = "."
		}
	case "MISC_CHECK":
		if c.Timeout == 0 {
			c.Timeout = migrate.Duration(d.delayLoop) // keepalived's misc_timeout default
		}
		if len(c.Command) == 0 {
			t.drop(n, true, "no misc_path; keepalived skips such a checker", "the realserver is never taken out")
			*c = migrate.Check{Type: "none"}
		}
	}
}

// url translates the first url block of an HTTP_GET or SSL_GET; lvsd
// checks one path.
func (t *translator) url(x *kaconf.Node, c *migrate.Check) {
	if c.Path != "" {
		t.drop(x, true, "lvsd checks one path per realserver, keepalived required every url to pass", "left out")
		return
	}
	t.ok(x)
	var status []int
	for _, u := range x.Block {
		switch u.Keyword {
		case "path":
			c.Path = arg(u, 0)
		case "status_code":
			codes, err := statusCodes(u.Args)
			if err != nil {
				t.dropf(u, true, "left out", "%v", err)
				continue
			}
			status = append(status, codes...)
		case "virtualhost":
			c.Host = arg(u, 0)
		case "regex":
			c.Regex = arg(u, 0)
		case "digest":
			t.drop(u, true, "lvsd has no MD5 digest of the page", "left out: the status code alone decides; expect_body or expect_regex can stand in")
			continue
		case "regex_no_match", "regex_options", "regex_min_offset", "regex_max_offset", "regex_stack":
			t.drop(u, true, "lvsd's expect_regex is a Go regular expression matched anywhere in the body", "left out")
			continue
		default:
			t.unknown(u, "url")
			continue
		}
		t.ok(u)
	}
	if len(status) == 0 {
		status, _ = statusCodes([]string{"200-299"}) // keepalived's default
	}
	c.Status = status
}

// statusCodes expands "200-299 400 503".
func statusCodes(args []string) ([]int, error) {
	var out []int
	for _, a := range args {
		lo, hi, isRange := strings.Cut(a, "-")
		l, err := strconv.Atoi(lo)
		h := l
		if isRange && err == nil {
			h, err = strconv.Atoi(hi)
		}
		if err != nil || l < 100 || h > 599 || h < l {
			return nil, fmt.Errorf("%q is not a status code or a range of them", a)
		}
		for s := l; s <= h; s++ {
			out = append(out, s)
		}
	}
	return out, nil
}

// miscCommand makes lvsd run a MISC_CHECK's misc_path as keepalived does.
// lvsd appends the realserver's address and port to the command; keepalived
// does not, so the command goes through /bin/sh -c, where the appended
// words become unused positional parameters.
func miscCommand(n *kaconf.Node) ([]string, bool) {
	words, ok := kaconf.QuotedWords(n.Text)
	if !ok || len(words) < 2 {
		return nil, false
	}
	line := words[1]
	argv, ok := kaconf.QuotedWords(line)
	if !ok || len(argv) == 0 {
		return nil, false
	}
	script := line
	if !strings.ContainsAny(line, "<>|&;`$(){}*?~\n") {
		quoted := make([]string, len(argv))
		for i, a := range argv {
			quoted[i] = shellQuote(a)
		}
		script = "exec " + strings.Join(quoted, " ")
	}
	return []string{"/bin/sh", "-c", script, "misc_check"}, true
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// commonCheck is the check most realservers share, written once for the
// service; each realserver then names only what differs.
func commonCheck(rs []realInfo) *migrate.Check {
	if len(rs) == 0 {
		return nil
	}
	best, count := 0, 0
	for i := range rs {
		n := 0
		for j := range rs {
			if reflect.DeepEqual(rs[i].check, rs[j].check) {
				n++
			}
		}
		if n > count {
			best, count = i, n
		}
	}
	c := rs[best].check
	return &c
}

// overlay returns what a realserver's check must name on top of the
// service's check base; nil when they are the same. lvsd lays a real's
// keys over the service's and cannot clear one, so a key the real leaves
// at its default is written with the default's value where lvsd has one.
func overlay(base *migrate.Check, c migrate.Check, at netip.AddrPort) *migrate.Check {
	if base == nil || reflect.DeepEqual(*base, c) {
		return nil
	}
	o := migrate.Check{}
	b := *base
	set := func(dst *string, v, bv, def string) {
		switch {
		case v != bv && v != "":
			*dst = v
		case v != bv:
			*dst = def
		}
	}
	set(&o.Type, c.Type, b.Type, c.Type)
	set(&o.Initial, c.Initial, b.Initial, c.Initial)
	set(&o.Address, c.Address, b.Address, at.Addr().String())
	set(&o.Path, c.Path, b.Path, "/")
	set(&o.Host, c.Host, b.Host, hostDefault(c, at))
	set(&o.Method, c.Method, b.Method, "GET")
	set(&o.Source, c.Source, b.Source, "")
	set(&o.Body, c.Body, b.Body, "")
	set(&o.Regex, c.Regex, b.Regex, "")
	set(&o.Send, c.Send, b.Send, "")
	set(&o.Expect, c.Expect, b.Expect, "")
	set(&o.Query, c.Query, b.Query, "")
	set(&o.QType, c.QType, b.QType, "A")
	if c.Interval != b.Interval {
		o.Interval = c.Interval
	}
	if c.Timeout != b.Timeout {
		o.Timeout = c.Timeout
	}
	if c.Rise != b.Rise {
		o.Rise = c.Rise
	}
	if c.Fall != b.Fall {
		o.Fall = c.Fall
	}
	if c.Retry != b.Retry {
		o.Retry = c.Retry
		if o.Retry == 0 {
			o.Retry = c.Interval // no retries
		}
	}
	if c.Port != b.Port {
		o.Port = c.Port
		if o.Port == 0 {
			o.Port = int(at.Port())
		}
	}
	if !reflect.DeepEqual(c.Status, b.Status) {
		o.Status = c.Status
		if o.Status == nil {
			o.Status = []int{200}
		}
	}
	if !reflect.DeepEqual(c.Command, b.Command) {
		o.Command = c.Command
	}
	o.Prune(c.Type)
	if reflect.DeepEqual(o, migrate.Check{}) {
		return nil
	}
	return &o
}

func hostDefault(c migrate.Check, at netip.AddrPort) string {
	if c.Address != "" {
		return c.Address
	}
	return at.Addr().String()
}
