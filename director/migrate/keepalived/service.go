package keepalived

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/kaconf"
)

// resolveService fills in what is the same for every service of v.
func (t *translator) resolveService(v *vs) {
	s := &v.svc
	if v.forward == "" {
		v.forward = "nat" // keepalived: "no forwarding method set, setting default NAT"
	}
	s.Forward = v.forward
	if !slices.Contains(config.Schedulers, s.Scheduler) {
		t.res.Findings.Add(v.node.File, v.node.Line, "lb_algo", true, fmt.Sprintf("lvsd does not know scheduler %q", s.Scheduler), "wlc is used")
		s.Scheduler = "wlc"
	}
	for _, f := range v.flags {
		only := map[string]string{"sh-port": "sh", "sh-fallback": "sh", "mh-port": "mh", "mh-fallback": "mh"}[f.Keyword]
		if only != "" && only != s.Scheduler {
			t.dropf(f, false, "left out, as keepalived ignores it", "applies to the %s scheduler, not %s", only, s.Scheduler)
			continue
		}
		s.SchedulerFlags = append(s.SchedulerFlags, f.Keyword)
		t.ok(f)
	}
	t.resolvePersistence(v)
	s.Quiescent = v.def.inhibit
}

// resolvePersistence reads persistence_timeout (360 s when given without
// a value, or when only persistence_granularity is set) and
// persistence_granularity (a netmask for IPv4, a prefix length for IPv6).
func (t *translator) resolvePersistence(v *vs) {
	if v.persistence == nil && v.granularity == nil {
		return
	}
	p := &migrate.Persistence{Timeout: migrate.Duration(360 * time.Second)}
	if n := v.persistence; n != nil && len(n.Args) > 0 {
		secs, ok := t.intArg(n, 0, 1, 2678400)
		if !ok {
			return
		}
		p.Timeout = migrate.Duration(time.Duration(secs) * time.Second)
	}
	if n := v.granularity; n != nil {
		bitsLen, err := granularity(arg(n, 0))
		if err != nil {
			t.dropf(n, true, "left out: lvsd groups clients by their whole address", "%v", err)
		} else {
			p.Netmask = bitsLen
			t.ok(n)
		}
	}
	if v.persistence != nil {
		t.ok(v.persistence)
	}
	v.svc.Persistence = p
}

// granularity converts a netmask (255.255.255.0) or a prefix length to a
// prefix length.
func granularity(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 128 {
		return n, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("%q is not a netmask", s)
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := bits.LeadingZeros32(^m)
	if m<<ones != 0 || ones == 0 {
		return 0, fmt.Errorf("%q is not a contiguous netmask", s)
	}
	return ones, nil
}

// sorryServer translates sorry_server for one service.
func (t *translator) sorryServer(v *vs, k serviceKey) string {
	n := v.sorry
	if n == nil {
		return ""
	}
	a, err := netip.ParseAddr(arg(n, 0))
	if err != nil || a.Is6() != k.six {
		t.dropf(n, true, "left out", "%q is not an address of the service's family", arg(n, 0))
		return ""
	}
	port := 0
	if p, err := strconv.Atoi(arg(n, 1)); err == nil {
		port = p
	}
	fwd := v.forward
	if v.sorryFwd != "" {
		fwd = v.sorryFwd
	}
	switch {
	case k.fwmark != 0 && fwd != "nat":
		port = 0
	case k.fwmark == 0 && (fwd != "nat" || port == 0):
		port = int(k.port) // keepalived puts the virtual port in
	}
	if fwd != v.forward {
		t.res.Findings.Add(n.File, n.Line, "sorry_server_lvs_method", true, "lvsd forwards to the sorry server like to the realservers", "forward "+v.forward)
	}
	t.ok(n)
	return netip.AddrPortFrom(a, uint16(port)).String()
}

// addService records a service, disabling it when lvsd would refuse it
// next to another.
func (t *translator) addService(v *vs, s migrate.Service) {
	key := s.Protocol + " " + s.Virtual
	if s.FWMark != 0 {
		key = fmt.Sprintf("fwmark %d %s", s.FWMark, s.Family)
	}
	if t.names[key] {
		s.Disabled = true
		t.res.Findings.Add(v.node.File, v.node.Line, "virtual_server", true, key+" is defined twice", "the second is written disabled")
	}
	t.names[key] = true
	t.res.Services = append(t.res.Services, s)
}

// disableStrayServices disables the services whose address no VRRP
// instance carries: lvsd requires one when it runs VRRP, so that a VIP
// never stays behind on a failed director.
func (t *translator) disableStrayServices() {
	if t.res.Main.VRRP == nil || len(t.res.Main.VRRP.Instances) == 0 {
		return
	}
	vips := map[netip.Addr]bool{}
	for _, in := range t.res.Main.VRRP.Instances {
		for _, s := range in.VirtualIPs {
			if p, err := parsePrefix(s); err == nil {
				vips[p.Addr()] = true
			}
		}
	}
	for i := range t.res.Services {
		s := &t.res.Services[i]
		ap, err := netip.ParseAddrPort(s.Virtual)
		if err != nil || s.Disabled || vips[ap.Addr()] {
			continue
		}
		s.Disabled = true
		file, line := splitWhere(s.Source)
		t.res.Findings.Add(file, line, "virtual_server", true,
			fmt.Sprintf("%v is not a virtual_ipaddress of any vrrp_instance, and lvsd only balances addresses that VRRP moves", ap.Addr()),
			"written disabled: add the address to an instance (or run lvsd without VRRP) and rename the file to .yaml")
	}
}

func splitWhere(s string) (string, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			n, _ := strconv.Atoi(s[i+1:])
			return s[:i], n
		}
	}
	return s, 0
}

// realInfo is a real_server as read, before it is placed in a service.
type realInfo struct {
	node    *kaconf.Node
	addr    netip.Addr
	port    int // 0: none given
	weight  int
	upper   int
	lower   int
	forward string
	inhibit bool
	check   migrate.Check
}

// realFor places a real server in service k with keepalived's port rules:
// NAT keeps the real's port (the virtual port when none is given), DR and
// TUN cannot change the port so the virtual one is used, and fwmark
// services keep a NAT port and clear it otherwise.
func realFor(r realInfo, k serviceKey, fwd string) (netip.AddrPort, bool) {
	port := r.port
	switch {
	case k.fwmark != 0 && fwd != "nat":
		port = 0
	case k.fwmark == 0 && (fwd != "nat" || port == 0):
		changed := port != 0 && port != int(k.port)
		port = int(k.port)
		return netip.AddrPortFrom(r.addr, uint16(port)), changed
	}
	return netip.AddrPortFrom(r.addr, uint16(port)), false
}

func (t *translator) reals(v *vs, k serviceKey) []migrate.Real {
	if v.realInfos == nil {
		v.realInfos = t.readReals(v)
		v.check = commonCheck(v.realInfos)
		t.noteQuiescent(v)
	}
	v.svc.Check = v.check
	v.svc.Sorry = t.sorryServer(v, k)
	var out []migrate.Real
	for _, r := range v.realInfos {
		if r.addr.Is6() != k.six {
			t.res.Findings.Add(r.node.File, r.node.Line, "real_server", true, "not of the service's address family", "left out of "+k.name)
			continue
		}
		fwd := r.forward
		if fwd == "" {
			fwd = v.forward
		}
		ap, changed := realFor(r, k, fwd)
		if changed {
			t.res.Findings.Add(r.node.File, r.node.Line, "real_server", false,
				fmt.Sprintf("port %d differs from the virtual port %d, which %s forwarding cannot change", r.port, k.port, fwd), "port "+strconv.Itoa(int(k.port))+", as keepalived resets it")
		}
		mr := migrate.Real{Source: where(r.node), Address: ap.String(), UpperThreshold: r.upper, LowerThreshold: r.lower}
		if k.fwmark != 0 && ap.Port() == 0 {
			mr.Address = ap.Addr().String()
		}
		if r.weight != 1 {
			w := r.weight
			mr.Weight = &w
		}
		if r.forward != "" && r.forward != v.forward {
			mr.Forward = r.forward
		}
		mr.Check = overlay(v.check, r.check, ap)
		if ap.Port() == 0 && r.check.Port == 0 && needsPort(r.check.Type) {
			// keepalived connects to port 0, which always fails.
			if mr.Check == nil {
				mr.Check = &migrate.Check{}
			}
			mr.Check.Type = "off"
			mr.Check.Prune("off")
			t.res.Findings.Add(r.node.File, r.node.Line, "real_server", true,
				"the checker has no port to connect to (no connect_port, no real port), so keepalived's check always fails", "check off: the realserver stays out, as in keepalived")
		}
		out = append(out, mr)
	}
	return out
}

// noteQuiescent reports realservers whose inhibit_on_failure differs from
// the service's: lvsd's quiescent is per service.
func (t *translator) noteQuiescent(v *vs) {
	if len(v.realInfos) == 0 {
		return
	}
	q := v.realInfos[0].inhibit
	v.svc.Quiescent = q
	for _, r := range v.realInfos[1:] {
		if r.inhibit != q {
			t.res.Findings.Add(r.node.File, r.node.Line, "inhibit_on_failure", true,
				"lvsd's quiescent applies to a whole service, and this realserver differs from the first", fmt.Sprintf("quiescent: %v for all", q))
		}
	}
}

func (t *translator) readReals(v *vs) []realInfo {
	var out []realInfo
	seen := map[string]bool{}
	for _, n := range v.reals {
		a, err := netip.ParseAddr(arg(n, 0))
		if err != nil {
			t.dropf(n, true, "left out, as keepalived does", "%q is not an address", arg(n, 0))
			continue
		}
		r := realInfo{node: n, addr: a, weight: v.def.weight, inhibit: v.def.inhibit}
		if len(n.Args) > 1 {
			p, err := strconv.Atoi(arg(n, 1))
			if err != nil || p < 0 || p > 65535 {
				t.dropf(n, true, "left out, as keepalived does", "%q is not a port", arg(n, 1))
				continue
			}
			r.port = p
		}
		if key := a.String() + ":" + strconv.Itoa(r.port); seen[key] {
			t.drop(n, false, "the real server is listed twice", "left out, as keepalived removes the second")
			continue
		} else {
			seen[key] = true
		}
		t.ok(n)
		t.realKeys(n, v, &r)
		out = append(out, r)
	}
	return out
}

func needsPort(typ string) bool {
	return typ == "tcp" || typ == "http" || typ == "https" || typ == "udp" || typ == "dns"
}
