// Package realserver prepares a Linux host to be an IPVS realserver in
// direct routing (DR) or tunnelling (TUN) mode: the virtual IPs on a
// loopback-like interface, so that the host accepts the packets the
// director forwards to it, and the ARP settings that keep it from
// answering ARP for them, which would steal the VIPs from the director.
//
// Planning is pure: from what the host has (Current) and what the
// operator asked (Options) it computes the Changes to make, and reports
// what it cannot fix. The System interface is the thin shell over
// netlink and /proc/sys; every change made is recorded in a state file,
// so that Down undoes exactly that and nothing else.
package realserver

import (
	"fmt"
	"net/netip"
	"slices"
)

// Options is what the operator asked for.
type Options struct {
	VIPs []netip.Addr `json:"vips"`
	// Tunnel prepares for IPVS tunnelling (IP-in-IP, IPv6-in-IPv6)
	// instead of direct routing.
	Tunnel bool `json:"tunnel,omitempty"`
	// Dummy carries the VIPs on a dummy interface of that name (created
	// when missing) instead of on lo.
	Dummy string `json:"dummy,omitempty"`
	// Interface is the ARP-facing interface (the default route's when "").
	Interface string `json:"interface,omitempty"`
}

// Link is one network interface as far as planning goes.
type Link struct {
	Kind string // netlink's link type: "dummy", "ipip", "ip6tnl", "veth", "device" (lo, NICs)...
	Up   bool
}

// Current is what the host has now.
type Current struct {
	Links   map[string]Link
	Addrs   map[string][]netip.Prefix // by link
	Sysctls map[string]string         // by name, as under /proc/sys
	// DefaultLink is the interface of the IPv4 default route ("" if none).
	DefaultLink string
}

// Kind is what a Change does.
type Kind string

// The kinds of change, in the order Up makes them.
const (
	AddLink   Kind = "add-link"
	LinkUp    Kind = "link-up"
	SetSysctl Kind = "sysctl"
	AddAddr   Kind = "add-addr"
)

// Change is one change to the host, with what it replaced, so that it
// can be undone.
type Change struct {
	Kind     Kind         `json:"kind"`
	Link     string       `json:"link,omitempty"`
	LinkKind string       `json:"link_kind,omitempty"` // AddLink
	Addr     netip.Prefix `json:"addr,omitzero"`       // AddAddr
	Sysctl   string       `json:"sysctl,omitempty"`    // SetSysctl: name under /proc/sys
	Old      string       `json:"old,omitempty"`       // SetSysctl: the value it replaced
	New      string       `json:"new,omitempty"`       // SetSysctl
}

func (c Change) String() string {
	switch c.Kind {
	case AddLink:
		return fmt.Sprintf("create %s interface %s", c.LinkKind, c.Link)
	case LinkUp:
		return fmt.Sprintf("set %s up", c.Link)
	case SetSysctl:
		return fmt.Sprintf("%s = %s (was %s)", dotted(c.Sysctl), c.New, c.Old)
	case AddAddr:
		return fmt.Sprintf("add %s to %s", c.Addr, c.Link)
	case DelAddr:
		return fmt.Sprintf("remove %s from %s", c.Addr, c.Link)
	case LinkDown:
		return fmt.Sprintf("set %s down", c.Link)
	case DelLink:
		return fmt.Sprintf("delete %s interface %s", c.LinkKind, c.Link)
	}
	return string(c.Kind)
}

// Missing says what c would fix, as check reports it.
func (c Change) Missing() string {
	switch c.Kind {
	case AddLink:
		return fmt.Sprintf("%s interface %s missing", c.LinkKind, c.Link)
	case LinkUp:
		return fmt.Sprintf("%s is down", c.Link)
	case SetSysctl:
		return fmt.Sprintf("%s is %s, want %s", dotted(c.Sysctl), c.Old, c.New)
	case AddAddr:
		return fmt.Sprintf("VIP %s not on %s", c.Addr, c.Link)
	}
	return c.String()
}

// Problem is something wrong that Up does not fix by itself.
type Problem string

// vipLink is the interface that carries the VIPs.
func (o Options) vipLink() string {
	if o.Dummy != "" {
		return o.Dummy
	}
	return "lo"
}

func (o Options) hasV4() bool { return slices.ContainsFunc(o.VIPs, netip.Addr.Is4) }
func (o Options) hasV6() bool { return slices.ContainsFunc(o.VIPs, netip.Addr.Is6) }

// device is an interface the setup needs, by name and netlink kind.
type device struct{ name, kind string }

// devices are the interfaces the setup creates when missing: the dummy
// carrying the VIPs and, for TUN, the fallback devices that receive
// tunnelled packets addressed to this host: tunl0 for IP-in-IP (module
// ipip), ip6tnl0 for IPv6-in-IPv6 (module ip6_tunnel).
func (o Options) devices() []device {
	var d []device
	if o.Dummy != "" {
		d = append(d, device{o.Dummy, "dummy"})
	}
	if o.Tunnel && o.hasV4() {
		d = append(d, device{"tunl0", "ipip"})
	}
	if o.Tunnel && o.hasV6() {
		d = append(d, device{"ip6tnl0", "ip6tnl"})
	}
	return d
}

// arpIface is the ARP-facing interface: the one given, or the default
// route's; "" when every VIP is IPv6 (no ARP; the kernel answers a
// neighbour solicitation only for an address on the receiving interface).
func (o Options) arpIface(cur Current) (string, error) {
	if !o.hasV4() {
		return "", nil
	}
	if o.Interface != "" {
		return o.Interface, nil
	}
	if cur.DefaultLink == "" {
		return "", fmt.Errorf("no IPv4 default route to find the ARP-facing interface: give --interface")
	}
	return cur.DefaultLink, nil
}

// PlanLinks returns the interfaces to create and set up. They come
// first: the sysctls of a device exist only once it does.
func PlanLinks(o Options, cur Current) ([]Change, []Problem) {
	var cs []Change
	var ps []Problem
	for _, d := range o.devices() {
		l, ok := cur.Links[d.name]
		switch {
		case !ok:
			cs = append(cs, Change{Kind: AddLink, Link: d.name, LinkKind: d.kind})
		case l.Kind != d.kind:
			ps = append(ps, Problem(fmt.Sprintf("%s is a %s interface, not %s", d.name, l.Kind, d.kind)))
			continue
		}
		if !l.Up {
			cs = append(cs, Change{Kind: LinkUp, Link: d.name})
		}
	}
	return cs, ps
}
