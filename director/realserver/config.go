package realserver

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// want is a sysctl the setup needs: the values that will do, the one it
// sets, and why.
type want struct {
	name string // under /proc/sys
	ok   []string
	set  string
}

// wantedSysctls are the sysctls for o, with arpIf the ARP-facing
// interface. The kernel applies the larger of conf/all and conf/IFACE
// for arp_ignore, arp_announce and rp_filter (ip-sysctl.rst), so each is
// set on both.
func wantedSysctls(o Options, arpIf string) []want {
	var ws []want
	if o.hasV4() {
		for _, ifc := range uniq("all", arpIf) {
			ws = append(ws,
				// arp_ignore 1: "reply only if the target IP address is local
				// address configured on the incoming interface". The VIP is
				// on lo (or a dummy), so the host never answers ARP for it,
				// which would pull the VIP's traffic away from the director.
				// 2 (also check the sender's subnet) does as well.
				want{"net/ipv4/conf/" + ifc + "/arp_ignore", []string{"1", "2"}, "1"},
				// arp_announce 2: "always use the best local address for this
				// target" as the source of the host's own ARP requests, never
				// the VIP, so neighbours do not learn VIP -> this host's MAC.
				want{"net/ipv4/conf/" + ifc + "/arp_announce", []string{"2"}, "2"})
		}
	}
	if o.Tunnel && o.hasV4() {
		for _, ifc := range []string{"all", "tunl0"} {
			// A decapsulated packet comes in on tunl0 from the client's
			// address, which the host routes through another interface,
			// so strict reverse-path filtering (1, RFC 3704 §2.2) drops
			// it. Loose (2) would do for an interface with an address,
			// but tunl0 has none, and the kernel fails every non-zero
			// rp_filter on such an interface (__fib_validate_source in
			// net/ipv4/fib_frontend.c: no_addr goes to last_resort). So
			// 0, on all and tunl0, as LVS-TUN has always needed; the
			// other interfaces keep their own setting.
			ws = append(ws, want{"net/ipv4/conf/" + ifc + "/rp_filter", []string{"0"}, "0"})
		}
	}
	return ws
}

func uniq(a, b string) []string {
	if b == "" || b == a {
		return []string{a}
	}
	return []string{a, b}
}

// hostPrefix is the VIP as a host address (/32, /128): the host must
// accept packets for it, not treat a whole subnet as local.
func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// quiet reports whether an address on link l is never answered for in
// ARP: loopback, dummy and tunnel devices (IFF_NOARP or no link layer).
func quiet(name string, l Link) bool {
	return name == "lo" || l.Kind == "dummy" || l.Kind == "ipip" || l.Kind == "ip6tnl"
}

// PlanConfig returns the sysctls to set and the VIPs to add, and what is
// wrong that it does not fix. Sysctls of interfaces that do not exist
// yet are left to a plan made once PlanLinks's changes are made.
func PlanConfig(o Options, cur Current) ([]Change, []Problem, error) {
	arpIf, err := o.arpIface(cur)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := cur.Links[arpIf]; arpIf != "" && !ok {
		return nil, nil, fmt.Errorf("ARP-facing interface %s: no such interface", arpIf)
	}
	var cs []Change
	var ps []Problem
	for _, w := range wantedSysctls(o, arpIf) {
		v, ok := cur.Sysctls[w.name]
		if ok && !slices.Contains(w.ok, v) {
			cs = append(cs, Change{Kind: SetSysctl, Sysctl: w.name, Old: v, New: w.set})
		}
	}
	vl := o.vipLink()
	for _, vip := range o.VIPs {
		c, p := planVIP(vip, vl, cur)
		cs, ps = append(cs, c...), append(ps, p...)
	}
	return cs, ps, nil
}

// planVIP adds vip to link vl unless some quiet interface has it already;
// on an interface that answers ARP or neighbour solicitations, it is a
// problem.
func planVIP(vip netip.Addr, vl string, cur Current) ([]Change, []Problem) {
	want := hostPrefix(vip)
	found := false
	var ps []Problem
	for _, name := range sortedKeys(cur.Addrs) {
		for _, p := range cur.Addrs[name] {
			if p.Addr() != vip {
				continue
			}
			switch l := cur.Links[name]; {
			case !quiet(name, l):
				ps = append(ps, Problem(fmt.Sprintf("VIP %s is on %s, which answers %s for it: "+
					"this host would take the VIP from the director; remove it there", p, name, resolution(vip))))
			case p.Bits() != want.Bits():
				ps = append(ps, Problem(fmt.Sprintf("VIP %s on %s: the whole prefix is local to this host; want %s", p, name, want)))
			default:
				found = true
			}
		}
	}
	if found || len(ps) > 0 {
		return nil, ps
	}
	return []Change{{Kind: AddAddr, Link: vl, Addr: want}}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func resolution(a netip.Addr) string {
	if a.Is4() {
		return "ARP"
	}
	return "neighbour solicitations"
}

// dotted is a /proc/sys name as sysctl(8) writes it: dots between the
// parts, and a dot inside a part (eth0.100) as a slash.
func dotted(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, ".", "/")
	}
	return strings.Join(parts, ".")
}
