package netlab

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// ip runs ip with args inside namespace ns.
func ip(ns string, args ...string) error {
	if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return nil
}

// addrUp adds addrs ("192.0.2.1/24", "2001:db8::1/64") to ifc in ns and
// sets ifc up. IPv6 addresses skip duplicate address detection (see NS).
func addrUp(ns, ifc string, addrs ...string) error {
	for _, a := range addrs {
		if a == "" {
			continue
		}
		args := []string{"addr", "add", a, "dev", ifc}
		if strings.Contains(a, ":") {
			args = append(args, "nodad")
		}
		if err := ip(ns, args...); err != nil {
			return err
		}
	}
	return ip(ns, "link", "set", ifc, "up")
}

// Link joins namespaces a and b with a veth pair named ifa and ifb, with
// the given addresses ("192.0.2.1/24"; "" for none), both up.
func (l *Lab) Link(a, ifa, addrA, b, ifb, addrB string) error {
	if err := ip(a, "link", "add", ifa, "type", "veth", "peer", "name", ifb, "netns", b); err != nil {
		return err
	}
	if err := addrUp(a, ifa, addrA); err != nil {
		return err
	}
	return addrUp(b, ifb, addrB)
}

// Bridge creates bridge br in namespace ns, with addrs, up. Multicast
// snooping is off: the bridge floods multicast like a hub, so VRRP's
// adverts (224.0.0.18, ff02::12) reach every port whatever MLD the hosts
// did or did not send.
func (l *Lab) Bridge(ns, br string, addrs ...string) error {
	if err := ip(ns, "link", "add", br, "type", "bridge", "mcast_snooping", "0"); err != nil {
		return err
	}
	return addrUp(ns, br, addrs...)
}

// Plug joins namespace ns to bridge br in namespace sw: a veth pair with
// ifc, holding addrs, in ns and port, enslaved to br, in sw; both up.
func (l *Lab) Plug(sw, br, port, ns, ifc string, addrs ...string) error {
	if err := ip(ns, "link", "add", ifc, "type", "veth", "peer", "name", port, "netns", sw); err != nil {
		return err
	}
	if err := ip(sw, "link", "set", port, "master", br, "up"); err != nil {
		return err
	}
	return addrUp(ns, ifc, addrs...)
}

// Switch creates a namespace (name) holding bridge br0 and plugs each of
// hosts (full namespace name to address, "" for none) into it: the
// host's end is ifc, the switch's end is "p" and the host's short name
// (pclient for the lab's "client"). It returns the switch's namespace.
func (l *Lab) Switch(name, ifc string, hosts map[string]string) (string, error) {
	sw, err := l.NS(name)
	if err != nil {
		return sw, err
	}
	if err := l.Bridge(sw, "br0"); err != nil {
		return sw, err
	}
	for _, ns := range slices.Sorted(maps.Keys(hosts)) {
		if err := l.Plug(sw, "br0", "p"+strings.TrimPrefix(ns, l.Prefix+"-"), ns, ifc, hosts[ns]); err != nil {
			return sw, err
		}
	}
	return sw, nil
}

// Segment creates a namespace for each of hosts (short name to address,
// "" for none) and plugs them into one switch, namespace "sw", each on
// its ifc (see Switch). It returns the namespaces by short name.
func (l *Lab) Segment(ifc string, hosts map[string]string) (map[string]string, error) {
	ns, addrs := map[string]string{}, map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(hosts)) {
		full, err := l.NS(name)
		if err != nil {
			return ns, err
		}
		ns[name], addrs[full] = full, hosts[name]
	}
	_, err := l.Switch("sw", ifc, addrs)
	return ns, err
}

// handle returns a netlink handle in namespace ns, made once per lab and
// closed at Close. A handle is safe for concurrent use.
func (l *Lab) handle(ns string) (*netlink.Handle, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h, ok := l.handles[ns]; ok {
		return h, nil
	}
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	l.handles[ns] = h
	l.closers = append(l.closers, h.Close)
	return h, nil
}

// link returns ifc in ns by netlink.
func (l *Lab) link(ns, ifc string) (*netlink.Handle, netlink.Link, error) {
	h, err := l.handle(ns)
	if err != nil {
		return nil, nil, err
	}
	link, err := h.LinkByName(ifc)
	if err != nil {
		return nil, nil, fmt.Errorf("%s in %s: %w", ifc, ns, err)
	}
	return h, link, nil
}

// SetLink sets ifc in ns up or down, by netlink: at once, with no process
// to start.
func (l *Lab) SetLink(ns, ifc string, up bool) error {
	h, link, err := l.link(ns, ifc)
	if err != nil {
		return err
	}
	if up {
		err = h.LinkSetUp(link)
	} else {
		err = h.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("%s in %s up=%v: %w", ifc, ns, up, err)
	}
	return nil
}

// LinkIsUp reports whether ifc in ns is administratively up.
func (l *Lab) LinkIsUp(ns, ifc string) bool {
	_, link, err := l.link(ns, ifc)
	return err == nil && link.Attrs().Flags&net.FlagUp != 0
}

// MAC returns the hardware address of ifc in ns.
func (l *Lab) MAC(ns, ifc string) (net.HardwareAddr, error) {
	_, link, err := l.link(ns, ifc)
	if err != nil {
		return nil, err
	}
	return link.Attrs().HardwareAddr, nil
}

func family(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// HasAddr reports whether namespace ns holds addr on ifc ("" for any
// interface), whether or not the interface is up.
func (l *Lab) HasAddr(ns, ifc string, addr netip.Addr) bool {
	h, err := l.handle(ns)
	if err != nil {
		return false
	}
	var link netlink.Link
	if ifc != "" {
		if link, err = h.LinkByName(ifc); err != nil {
			return false
		}
	}
	addrs, err := h.AddrList(link, family(addr))
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if ip, _ := netip.AddrFromSlice(a.IP); ip.Unmap() == addr {
			return true
		}
	}
	return false
}

// LinkLocal reports whether ifc in ns has an IPv6 link-local address
// that is no longer tentative: the source of IPv6 VRRP adverts and
// neighbour advertisements.
func (l *Lab) LinkLocal(ns, ifc string) bool {
	h, link, err := l.link(ns, ifc)
	if err != nil {
		return false
	}
	addrs, _ := h.AddrList(link, netlink.FAMILY_V6)
	for _, a := range addrs {
		if a.IP.IsLinkLocalUnicast() && a.Flags&0x40 == 0 { // IFA_F_TENTATIVE
			return true
		}
	}
	return false
}

// Neighbour returns the MAC that namespace ns's neighbour table holds for
// addr, or nil.
func (l *Lab) Neighbour(ns string, addr netip.Addr) net.HardwareAddr {
	h, err := l.handle(ns)
	if err != nil {
		return nil
	}
	neighs, err := h.NeighList(0, family(addr))
	if err != nil {
		return nil
	}
	for _, n := range neighs {
		if ip, _ := netip.AddrFromSlice(n.IP); ip.Unmap() == addr && n.HardwareAddr != nil {
			return n.HardwareAddr
		}
	}
	return nil
}

// vrrpTable is the nftables table DropVRRP makes.
const vrrpTable = "netlab_vrrp"

// DropVRRP drops IP protocol 112 (VRRP) in namespace ns, in both
// directions, until AllowVRRP: the host neither hears nor is heard, as
// in a split brain.
func (l *Lab) DropVRRP(ns string) error {
	_, err := l.In(ns, "nft", "add table inet "+vrrpTable+"; "+
		"add chain inet "+vrrpTable+" in { type filter hook input priority 0; }; "+
		"add chain inet "+vrrpTable+" out { type filter hook output priority 0; }; "+
		"add rule inet "+vrrpTable+" in meta l4proto 112 drop; "+
		"add rule inet "+vrrpTable+" out meta l4proto 112 drop")
	return err
}

// AllowVRRP removes what DropVRRP did; an error if it had not.
func (l *Lab) AllowVRRP(ns string) error {
	_, err := l.In(ns, "nft", "delete", "table", "inet", vrrpTable)
	return err
}

// DropVRRPOn drops VRRP in namespace ns on interface ifc only, both ways,
// until AllowVRRPOn: one heartbeat path fails while the others work.
func (l *Lab) DropVRRPOn(ns, ifc string) error {
	t := vrrpTable + "_" + ifc
	_, err := l.In(ns, "nft", "add table inet "+t+"; "+
		"add chain inet "+t+" in { type filter hook input priority 0; }; "+
		"add chain inet "+t+" out { type filter hook output priority 0; }; "+
		"add rule inet "+t+" in iifname \""+ifc+"\" meta l4proto 112 drop; "+
		"add rule inet "+t+" out oifname \""+ifc+"\" meta l4proto 112 drop")
	return err
}

// AllowVRRPOn removes what DropVRRPOn did for ifc.
func (l *Lab) AllowVRRPOn(ns, ifc string) error {
	_, err := l.In(ns, "nft", "delete", "table", "inet", vrrpTable+"_"+ifc)
	return err
}
