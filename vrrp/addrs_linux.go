//go:build linux

package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// nlAddrs is the Linux Addrs: netlink, on the interface or the macvlan.
type nlAddrs struct {
	h    *netlink.Handle
	link netlink.Link
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{
		IP:   p.Addr().AsSlice(),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}}
	if p.Addr().Is6() {
		// Usable at once: the address moves between routers, so duplicate
		// address detection would only delay the takeover.
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// Add implements Addrs; an address already present is not an error.
func (a *nlAddrs) Add(p netip.Prefix) error {
	err := a.h.AddrAdd(a.link, nlAddr(p))
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %v on %s: %w", p, a.link.Attrs().Name, err)
	}
	return nil
}

// Remove implements Addrs; an absent address is not an error.
func (a *nlAddrs) Remove(p netip.Prefix) error {
	err := a.h.AddrDel(a.link, nlAddr(p))
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("remove %v from %s: %w", p, a.link.Attrs().Name, err)
	}
	return nil
}
