//go:build linux

package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// captureNetns returns the calling thread's network namespace, or nil
// when it is the process's own (every thread of the daemon is there): then
// nothing is switched, as setns(2) wants CAP_SYS_ADMIN even to enter the
// namespace a thread is already in, and an unprivileged lvsd holds only
// CAP_NET_ADMIN and CAP_NET_RAW.
func captureNetns() (*os.File, error) {
	h, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	if self, err := netns.GetFromPath("/proc/self/ns/net"); err == nil {
		defer self.Close()
		if self.Equal(h) {
			h.Close()
			return nil, nil
		}
	}
	return os.NewFile(uintptr(h), "netns"), nil
}

// runInNetns runs fn on a new OS thread switched into ns. The thread is
// never switched back: it ends with its goroutine. Sockets that fn opens
// stay in ns, and processes it starts are forked into ns. A closed ns
// (netns.None) is the process's own: fn runs here.
func runInNetns(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// open fills in what Deps left out with the real thing, created in the
// node's namespace, and returns a function that closes and removes it.
func (n *Node) open() (cleanup func(), err error) {
	ns := netns.None() // the process's own (see captureNetns)
	if n.ns != nil {
		ns = netns.NsHandle(n.ns.Fd())
	}
	undo := []func(){func() { n.ns.Close() }}
	undoAll := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	cleanup = undoAll
	defer func() {
		if err != nil {
			undoAll() // not cleanup: an error return sets it to nil
		}
	}()
	if n.runCmd == nil {
		n.runCmd = func(ctx context.Context, argv []string) error {
			return runInNetns(ns, func() error { return execCmd(ctx, argv) })
		}
	}
	if n.conn != nil && n.addrs != nil && n.ann != nil && n.links != nil {
		return cleanup, nil
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	undo = append(undo, h.Close)
	if n.links == nil {
		lw := &nlLinks{ns: ns, h: h}
		n.links = lw
		undo = append(undo, lw.wg.Wait) // before h.Close: undo runs backwards
	}
	if n.conn != nil && n.addrs != nil && n.ann != nil {
		return cleanup, nil
	}
	more, err := n.openLink(ns, h)
	undo = append(undo, more...)
	return cleanup, err
}

// openLink opens the Conn, Addrs and Announcer that Deps left out, and
// the virtual MAC if configured.
func (n *Node) openLink(ns netns.NsHandle, h *netlink.Handle) (undo []func(), err error) {
	base, err := h.LinkByName(n.cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", n.cfg.Interface, err)
	}
	out := base
	if n.cfg.VirtualMAC && !n.deps.ListenOnly { // a dry run makes no macvlan
		vm, err := newVMAC(h, ns, base, n.cfg.is4(), n.cfg.VRID)
		if err != nil {
			return nil, err
		}
		undo = append(undo, func() {
			if err := vm.remove(); err != nil {
				n.log.WithError(err).Warn("remove virtual mac")
			}
		})
		out = vm.link
	}
	if n.addrs == nil {
		n.addrs = &nlAddrs{h: h, link: out}
	}
	if n.conn == nil {
		if n.conn, err = n.openConn(ns, h, base, out); err != nil {
			return undo, err
		}
	}
	if n.ann == nil {
		router := !n.cfg.is4() && forwards6(ns, base.Attrs().Name)
		var a *linkAnnouncer
		err = runInNetns(ns, func() (err error) {
			a, err = newAnnouncer(netInterface(out), n.cfg.is4(), router)
			return err
		})
		if err != nil {
			return undo, err
		}
		n.ann = a
		undo = append(undo, func() { a.Close() })
	}
	return undo, nil
}

// openConn picks the source address and opens the raw sockets.
func (n *Node) openConn(ns netns.NsHandle, h *netlink.Handle, base, out netlink.Link) (Conn, error) {
	src := n.cfg.Unicast.Source
	if !src.IsValid() {
		var err error
		if src, err = primaryAddr(h, base, n.cfg.is4(), n.cfg.VIPs); err != nil {
			return nil, err
		}
	}
	var c *rawConn
	err := runInNetns(ns, func() (err error) {
		c, err = newRawConn(netInterface(base), netInterface(out), src, len(n.cfg.Unicast.Peers) == 0)
		return err
	})
	return c, err
}

// netInterface converts a netlink link for the socket APIs, which need
// only its index, name and MAC; net.InterfaceByName would look in the
// calling thread's namespace.
func netInterface(l netlink.Link) *net.Interface {
	a := l.Attrs()
	return &net.Interface{Index: a.Index, MTU: a.MTU, Name: a.Name, HardwareAddr: a.HardwareAddr, Flags: a.Flags}
}

// primaryAddr returns the address VRRP sends from when no unicast source
// is set: for IPv4 the interface's first primary (not secondary) address,
// for IPv6 its link-local address (RFC 5798 §5.1.2.1). VIPs left on the
// interface are skipped.
func primaryAddr(h *netlink.Handle, link netlink.Link, ipv4 bool, vips []netip.Prefix) (netip.Addr, error) {
	family := netlink.FAMILY_V6
	if ipv4 {
		family = netlink.FAMILY_V4
	}
	addrs, err := h.AddrList(link, family)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", link.Attrs().Name, err)
	}
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		ip = ip.Unmap()
		if slices.ContainsFunc(vips, func(p netip.Prefix) bool { return p.Addr() == ip }) {
			continue
		}
		if ipv4 && a.Flags&unix.IFA_F_SECONDARY == 0 && a.Scope == unix.RT_SCOPE_UNIVERSE {
			return ip, nil
		}
		if !ipv4 && ip.IsLinkLocalUnicast() {
			return ip, nil
		}
	}
	kind := "link-local IPv6"
	if ipv4 {
		kind = "primary IPv4"
	}
	return netip.Addr{}, errors.New("no " + kind + " address on " + link.Attrs().Name)
}

// forwards6 reports whether the interface forwards IPv6, which decides
// the Router flag of our Neighbor Advertisements.
func forwards6(ns netns.NsHandle, ifname string) bool {
	var b []byte
	_ = runInNetns(ns, func() (err error) {
		b, err = os.ReadFile("/proc/sys/net/ipv6/conf/" + ifname + "/forwarding")
		return err
	})
	return strings.TrimSpace(string(b)) == "1"
}
