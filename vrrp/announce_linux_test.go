//go:build linux

package vrrp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestAnnounceAfterLinkBounce is the regression test of the VM soak's
// lost gratuitous ARP (issue 14, seed 7, faults #2 and #57): a packet
// socket keeps its interface's going down as a pending error, and the
// next send returns it once, whatever the link's state then: the first
// announcement after the link came back failed with "network is down".
// For IPv4 that was one of the two ARPs; for IPv6 it would be the only
// Neighbor Advertisement. Every packet must go out after a bounce.
func TestAnnounceAfterLinkBounce(t *testing.T) {
	inFreshNetns(t, func() {
		if !vethUp(t, "an0", "an1") {
			return
		}
		ifi, err := net.InterfaceByName("an0")
		if err != nil {
			t.Error(err)
			return
		}
		for _, v4 := range []bool{true, false} {
			a, err := newAnnouncer(ifi, v4, false)
			if err != nil {
				t.Error(err)
				return
			}
			l, _ := netlink.LinkByName("an0")
			if err := netlink.LinkSetDown(l); err != nil {
				t.Error(err)
			}
			if err := netlink.LinkSetUp(l); err != nil {
				t.Error(err)
			}
			addr, want := netip.MustParseAddr("192.0.2.10"), 2
			if !v4 {
				addr, want = netip.MustParseAddr("2001:db8::10"), 1
			}
			n, err := a.Announce(addr)
			if err != nil || n != want {
				t.Errorf("announce %v after the link bounced: %d of %d sent, %v", addr, n, want, err)
			}
			a.Close()
		}
	})
}

// TestWatcherAfterLinkBounce: the address guard's watcher reads the
// same pending error after its interface went down (the VM soak's links
// bounced hundreds of times), and it must neither stop reading (its loop
// ended at the first error: the guard saw no claim again until a
// restart) nor lose its first probe or announcement after the link came
// back.
func TestWatcherAfterLinkBounce(t *testing.T) {
	inFreshNetns(t, func() {
		if !vethUp(t, "wa0", "wa1") {
			return
		}
		ifi, _ := net.InterfaceByName("wa0")
		peer, _ := net.InterfaceByName("wa1")
		w, err := newWatcher(ifi, ifi.HardwareAddr, true, false)
		if err != nil {
			t.Error(err)
			return
		}
		defer w.Close()
		got := make(chan Sighting, 4)
		read := make(chan error, 1)
		go func() {
			for {
				s, err := w.Read()
				if err != nil {
					read <- err
					return
				}
				got <- s
			}
		}()
		l, _ := netlink.LinkByName("wa0")
		if err := netlink.LinkSetDown(l); err != nil {
			t.Error(err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			t.Error(err)
		}
		if err := w.Probe(netip.MustParseAddr("192.0.2.10")); err != nil {
			t.Errorf("first probe after the bounce: %v", err)
		}
		a, err := newAnnouncer(peer, true, false)
		if err != nil {
			t.Error(err)
			return
		}
		defer a.Close()
		if _, err := a.Announce(netip.MustParseAddr("192.0.2.10")); err != nil {
			t.Error(err)
		}
		select {
		case s := <-got:
			if s.Addr != netip.MustParseAddr("192.0.2.10") || s.MAC.String() != peer.HardwareAddr.String() {
				t.Errorf("sighting %+v, want 192.0.2.10 at %v", s, peer.HardwareAddr)
			}
		case err := <-read:
			t.Errorf("the watcher stopped reading after the bounce: %v", err)
		case <-time.After(2 * time.Second):
			t.Error("no sighting of the peer's announcement within 2 s")
		}
	})
}

// vethUp makes the veth pair a-b in the current namespace and sets both
// ends up; it reports failure with t.Errorf (the caller runs on
// inFreshNetns's thread, where t.Fatal must not be called).
func vethUp(t *testing.T, a, b string) bool {
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b}); err != nil {
		t.Errorf("veth: %v", err)
		return false
	}
	for _, n := range []string{a, b} {
		l, err := netlink.LinkByName(n)
		if err == nil {
			err = netlink.LinkSetUp(l)
		}
		if err != nil {
			t.Errorf("%s up: %v", n, err)
			return false
		}
	}
	return true
}
