package keepalived

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/kaconf"
)

// vsDefaults are the settings a virtual_server passes to its real
// servers and their checkers, with keepalived's defaults.
type vsDefaults struct {
	delayLoop        time.Duration // delay_loop: 60s
	connectTimeout   time.Duration // connect_timeout: 5s
	retry            int           // -1: the checker's default
	delayBeforeRetry time.Duration // -1: the checker's default
	weight           int           // 1
	inhibit          bool
	alpha            bool
	virtualhost      string
}

// vs is a virtual_server as read, before it becomes service files.
type vs struct {
	node        *kaconf.Node
	svc         migrate.Service
	def         vsDefaults
	forward     string
	protocol    string
	flags       []*kaconf.Node
	sorry       *kaconf.Node
	sorryFwd    string
	persistence *kaconf.Node
	granularity *kaconf.Node
	reals       []*kaconf.Node
	family      string
	realInfos   []realInfo     // read once, placed in each service
	check       *migrate.Check // the service's check: what most reals share
}

func (t *translator) virtualServer(n *kaconf.Node) {
	v := &vs{node: n, def: vsDefaults{delayLoop: 60 * time.Second, connectTimeout: 5 * time.Second, retry: -1, delayBeforeRetry: -1, weight: 1}}
	v.svc = migrate.Service{Source: where(n), Scheduler: "wlc"}
	t.ok(n)
	for _, c := range n.Block {
		t.vsKey(c, v)
	}
	keys := t.vsKeys(v)
	if len(keys) == 0 {
		return
	}
	t.resolveService(v)
	if len(v.reals) == 0 {
		t.res.Findings.Add(n.File, n.Line, "virtual_server", false, "no real_server", "a service without realservers (the sorry server only)")
	}
	for _, k := range keys {
		reals := t.reals(v, k) // sets the service's check and sorry server
		s := v.svc
		s.Name, s.Virtual, s.FWMark, s.Family, s.Protocol = k.name, k.virtual, k.fwmark, k.family, k.protocol
		s.Reals = reals
		t.addService(v, s)
	}
}

// serviceKey is one IPVS service a virtual_server makes: one, or one per
// member of its virtual_server_group.
type serviceKey struct {
	name, virtual, family, protocol string
	fwmark                          uint32
	port                            uint16
	six                             bool
}

func (t *translator) vsKey(c *kaconf.Node, v *vs) {
	switch c.Keyword {
	case "delay_loop", "connect_timeout", "delay_before_retry":
		d, ok := t.secondsArg(c, 0)
		if !ok {
			return
		}
		switch c.Keyword {
		case "delay_loop":
			v.def.delayLoop = time.Duration(d)
		case "connect_timeout":
			v.def.connectTimeout = time.Duration(d)
		default:
			v.def.delayBeforeRetry = time.Duration(d)
		}
	case "retry":
		r, ok := t.intArg(c, 0, 0, 1000)
		if !ok {
			return
		}
		v.def.retry = r
	case "weight":
		w, ok := t.intArg(c, 0, 0, 65535)
		if !ok {
			return
		}
		v.def.weight = w
	case "inhibit_on_failure":
		v.def.inhibit = boolArg(c)
	case "alpha":
		v.def.alpha = boolArg(c)
	case "virtualhost":
		v.def.virtualhost = arg(c, 0)
	case "lb_algo", "lvs_sched":
		v.svc.Scheduler = arg(c, 0)
	case "hashed":
		// the kernel sets the hashed flag on every service
	case "flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback":
		v.flags = append(v.flags, c)
		return // translated or reported once the scheduler is known
	case "lb_kind", "lvs_method":
		f, ok := t.forwarding(c)
		if !ok {
			return
		}
		v.forward = f
	case "protocol":
		p := strings.ToLower(arg(c, 0))
		if p != "tcp" && p != "udp" && p != "sctp" {
			t.dropf(c, true, "left out", "%q is not TCP, UDP or SCTP", arg(c, 0))
			return
		}
		v.protocol = p
	case "persistence_timeout":
		v.persistence = c
	case "persistence_granularity":
		v.granularity = c
	case "ip_family":
		v.family = map[string]string{"inet": "ipv4", "inet6": "ipv6"}[arg(c, 0)]
	case "sorry_server":
		v.sorry = c
	case "sorry_server_lvs_method":
		f, ok := t.forwarding(c)
		if !ok {
			return
		}
		v.sorryFwd = f
	case "real_server":
		v.reals = append(v.reals, c)
		return // translated per service key
	default:
		t.vsOther(c, v)
		return
	}
	t.ok(c)
}

func (t *translator) vsOther(c *kaconf.Node, v *vs) {
	switch c.Keyword {
	case "quorum":
		if q, err := strconv.Atoi(arg(c, 0)); err == nil && q <= 1 {
			t.ok(c) // keepalived's default: the sorry server when no real is up, as lvsd's sorry
			return
		}
		t.drop(c, true, "lvsd has no quorum: its sorry server comes in when no realserver is usable, not below a total weight", "left out")
	case "hysteresis", "quorum_up", "quorum_down":
		t.drop(c, true, "lvsd has no quorum or quorum scripts", "left out; notify.command hears every realserver change")
	case "ops":
		t.drop(c, true, "lvsd has no one-packet scheduling", "left out: each UDP flow sticks to one realserver")
	case "persistence_engine":
		t.drop(c, true, "lvsd has no IPVS persistence engine (sip)", "left out: persistence by client address only")
	case "sorry_server_inhibit":
		t.drop(c, false, "lvsd removes the sorry server when a realserver returns", "existing connections to it are cut when the kernel removes it")
	case "ha_suspend":
		t.drop(c, false, "lvsd checks on both nodes all the time", "the backup's table is ready at takeover")
	case "omega", "smtp_alert", "snmp_name", "warmup":
		t.drop(c, false, "no lvsd counterpart", "")
	default:
		t.unknown(c, "virtual_server")
	}
}

// forwarding reads "NAT|DR|TUN [type ipip|gue|gre] [port N] [csum ...]".
func (t *translator) forwarding(c *kaconf.Node) (string, bool) {
	f, ok := map[string]string{"NAT": "nat", "DR": "dr", "TUN": "tun"}[arg(c, 0)]
	if !ok {
		t.dropf(c, true, "left out; keepalived refuses it too", "%q is not NAT, DR or TUN", arg(c, 0))
		return "", false
	}
	if typ := option(c.Args, "type"); typ != "" && typ != "ipip" {
		t.dropf(c, true, "IP-in-IP is used instead", "lvsd tunnels with IP-in-IP only, not %s", typ)
	} else if len(c.Args) > 1 && c.Args[1] != "type" {
		t.dropf(c, false, "the kernel's defaults are used", "tunnel options %s are not expressible", strings.Join(c.Args[1:], " "))
	}
	return f, true
}

// vsKeys returns the services of v: its address and port, its fwmark, or
// the members of its group.
func (t *translator) vsKeys(v *vs) []serviceKey {
	n := v.node
	proto := v.protocol
	if proto == "" {
		proto = "udp" // keepalived 2.2: "no protocol set - defaulting to UDP"
		t.res.Findings.Add(n.File, n.Line, "protocol", false, "not set: keepalived defaults to UDP", "protocol: udp, as keepalived does")
	}
	switch arg(n, 0) {
	case "fwmark":
		m, err := strconv.ParseUint(arg(n, 1), 10, 32)
		if err != nil || m == 0 {
			t.dropf(n, true, "left out", "fwmark %q is not a mark of 1 or more", arg(n, 1))
			return nil
		}
		return []serviceKey{t.fwmarkKey(uint32(m), v.family, v)}
	case "group":
		return t.groupKeys(v, proto)
	}
	a, err := netip.ParseAddr(arg(n, 0))
	port, perr := strconv.ParseUint(arg(n, 1), 10, 16)
	if err != nil || perr != nil || port == 0 {
		t.dropf(n, true, "left out: lvsd needs an address and a port; for all ports mark the traffic and use fwmark",
			"%q %q is not an address and a port of 1 or more", arg(n, 0), arg(n, 1))
		return nil
	}
	return []serviceKey{addrKey(a, uint16(port), proto)}
}

func addrKey(a netip.Addr, port uint16, proto string) serviceKey {
	ap := netip.AddrPortFrom(a, port)
	return serviceKey{name: fmt.Sprintf("%s-%s-%d", proto, a, port), virtual: ap.String(), protocol: proto, port: port, six: a.Is6()}
}

func (t *translator) fwmarkKey(m uint32, family string, v *vs) serviceKey {
	six := family == "ipv6"
	if family == "" {
		for _, r := range v.reals {
			if a, err := netip.ParseAddr(arg(r, 0)); err == nil && a.Is6() {
				six = true
			}
		}
	}
	k := serviceKey{name: fmt.Sprintf("fwmark-%d", m), fwmark: m, six: six}
	if six {
		k.name += "-ipv6"
		k.family = "ipv6"
	}
	if v.protocol != "" && t.once(where(v.node)+" fwmark protocol") {
		t.res.Findings.Add(v.node.File, v.node.Line, "protocol", false, "a fwmark service has no protocol", "left out; keepalived ignores it too")
	}
	return k
}

// groupKeys expands a virtual_server_group: "ADDR PORT", "A.B.C.D-E
// PORT" (a range of the last byte; of the last group for IPv6) and
// "fwmark N".
func (t *translator) groupKeys(v *vs, proto string) []serviceKey {
	n := v.node
	g := t.groups[arg(n, 1)]
	if g == nil {
		t.dropf(n, true, "left out; keepalived skips it too", "no virtual_server_group is named %q", arg(n, 1))
		return nil
	}
	t.ok(g)
	var keys []serviceKey
	for _, m := range g.Block {
		if m.Keyword == "fwmark" {
			mark, err := strconv.ParseUint(arg(m, 0), 10, 32)
			if err != nil || mark == 0 {
				t.dropf(m, true, "left out", "fwmark %q is not a mark of 1 or more", arg(m, 0))
				continue
			}
			fam := map[string]string{"inet6": "ipv6", "inet": "ipv4"}[arg(m, 1)]
			if fam == "" {
				fam = v.family
			}
			keys = append(keys, t.fwmarkKey(uint32(mark), fam, v))
			t.ok(m)
			continue
		}
		addrs, err := addrRange(m.Keyword)
		port, perr := strconv.ParseUint(arg(m, 0), 10, 16)
		if err != nil || perr != nil || port == 0 {
			t.dropf(m, true, "left out: lvsd needs an address and a port", "%q %q is not an address range and a port of 1 or more", m.Keyword, arg(m, 0))
			continue
		}
		for _, a := range addrs {
			keys = append(keys, addrKey(a, uint16(port), proto))
		}
		t.ok(m)
	}
	for i := range keys {
		keys[i].name = arg(n, 1) + "-" + keys[i].name
	}
	return keys
}

// addrRange reads "192.0.2.3-10" or "2001:db8::2-9" (keepalived varies the
// last byte, or the last 16-bit group for IPv6) or a single address.
func addrRange(s string) ([]netip.Addr, error) {
	base, end, isRange := strings.Cut(s, "-")
	a, err := netip.ParseAddr(base)
	if err != nil || !isRange {
		return []netip.Addr{a}, err
	}
	last := 8
	if a.Is6() {
		last = 16
	}
	hi, err := strconv.ParseUint(end, map[bool]int{true: 16, false: 10}[a.Is6()], last)
	if err != nil {
		return nil, err
	}
	b := a.As16()
	first := uint64(b[15])
	if a.Is6() {
		first = uint64(b[14])<<8 | uint64(b[15])
	}
	if hi < first || hi-first > 1024 {
		return nil, fmt.Errorf("range %s runs backwards or is too long", s)
	}
	var out []netip.Addr
	for x := first; x <= hi; x++ {
		if a.Is6() {
			b[14], b[15] = byte(x>>8), byte(x)
			out = append(out, netip.AddrFrom16(b))
		} else {
			b[15] = byte(x)
			out = append(out, netip.AddrFrom16(b).Unmap())
		}
	}
	return out, nil
}
