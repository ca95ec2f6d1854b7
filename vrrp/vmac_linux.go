//go:build linux

package vrrp

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// vmac is the macvlan that carries the virtual router MAC.
type vmac struct {
	h       *netlink.Handle
	ns      netns.NsHandle
	link    netlink.Link
	restore []func() error
}

// vmacName names the macvlan after the family, the parent's index and
// the VRID, which together are unique in a namespace: "vr4.2.51".
func vmacName(ipv4 bool, parent int, vrid uint8) (string, error) {
	fam := 6
	if ipv4 {
		fam = 4
	}
	name := fmt.Sprintf("vr%d.%d.%d", fam, parent, vrid)
	if len(name) >= unix.IFNAMSIZ {
		return "", fmt.Errorf("virtual mac: interface name %q too long", name)
	}
	return name, nil
}

// newVMAC creates the macvlan on base, with no IPv6 link-local address
// (both routers use the same MAC, so an automatic address would be the
// same too, and a backup must send nothing from it), and brings it up.
//
// The mode is bridge, not private, because of how macvlan receives
// multicast: a frame whose source MAC is that of a local macvlan in
// private (or passthru) mode is taken for one of its own, reflected by
// the switch, and delivered to that macvlan only. The peer master sends
// its adverts from the same virtual MAC as our macvlan, so in private mode
// they would never reach base, where we listen. In bridge mode macvlan
// lets the frame through to base as well.
//
// For IPv4 it also sets the ARP sysctls of base and the macvlan (see
// arpSysctls).
func newVMAC(h *netlink.Handle, ns netns.NsHandle, base netlink.Link, ipv4 bool, vrid uint8) (*vmac, error) {
	name, err := vmacName(ipv4, base.Attrs().Index, vrid)
	if err != nil {
		return nil, err
	}
	if old, err := h.LinkByName(name); err == nil {
		_ = h.LinkDel(old) // left over from a crash
	}
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: base.Attrs().Index, HardwareAddr: VirtualMAC(vrid, ipv4)},
		Mode:      netlink.MACVLAN_MODE_BRIDGE,
	}
	if err := h.LinkAdd(mv); err != nil {
		return nil, fmt.Errorf("virtual mac: add macvlan %s on %s: %w", name, base.Attrs().Name, err)
	}
	v := &vmac{h: h, ns: ns}
	link, err := h.LinkByName(name)
	if err == nil {
		v.link = link
		err = h.LinkSetIP6AddrGenMode(link, nl.IN6_ADDR_GEN_MODE_NONE)
	}
	if err == nil && ipv4 {
		err = v.arpSysctls(base.Attrs().Name, name)
	}
	if err == nil {
		err = h.LinkSetUp(link)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("virtual mac %s: %w", name, err), v.remove())
	}
	return v, nil
}

// arpSysctls makes each of base and the macvlan answer ARP only for its
// own addresses (arp_ignore=1) and ask with one of its own addresses as
// the sender (arp_announce=2). Without them base answers for the VIPs
// with its own MAC, the macvlan answers for base's addresses with the
// virtual MAC, and base, resolving a client to answer it from a VIP,
// asks "who has the client, tell the VIP" with its own MAC, which
// re-points the client's cache entry for the VIP at base. keepalived
// sets the same. base's old values are restored by remove.
func (v *vmac) arpSysctls(base, macvlan string) error {
	return runInNetns(v.ns, func() error {
		for _, key := range []string{"arp_ignore", "arp_announce"} {
			want := map[string]string{"arp_ignore": "1", "arp_announce": "2"}[key]
			path := func(ifname string) string { return "/proc/sys/net/ipv4/conf/" + ifname + "/" + key }
			old, err := os.ReadFile(path(base))
			if err != nil {
				return err
			}
			if err := os.WriteFile(path(base), []byte(want), 0o644); err != nil {
				return err
			}
			v.restore = append(v.restore, func() error {
				return runInNetns(v.ns, func() error {
					return os.WriteFile(path(base), []byte(strings.TrimSpace(string(old))), 0o644)
				})
			})
			if err := os.WriteFile(path(macvlan), []byte(want), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}

// remove deletes the macvlan (and the VIPs on it) and restores sysctls.
func (v *vmac) remove() error {
	var errs []error
	if v.link != nil {
		if err := v.h.LinkDel(v.link); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("virtual mac: delete %s: %w", v.link.Attrs().Name, err))
		}
	}
	for _, r := range v.restore {
		errs = append(errs, r())
	}
	return errors.Join(errs...)
}
