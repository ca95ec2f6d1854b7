//go:build linux

package vrrp

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// inFreshNetns runs fn on a thread in a new network namespace with lo up,
// or skips the test where namespaces cannot be made (not root). The
// thread is never switched back: it ends with its goroutine.
func inFreshNetns(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	skip := make(chan string, 1)
	go func() {
		defer close(done)
		runtime.LockOSThread()
		h, err := netns.New()
		if err != nil {
			skip <- "new network namespace: " + err.Error()
			return
		}
		defer h.Close()
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			skip <- "lo up: " + err.Error()
			return
		}
		fn()
	}()
	<-done
	select {
	case why := <-skip:
		t.Skip(why)
	default:
	}
}

// TestRawConnWrite sends adverts through the real sockets, in a namespace
// of the test's own, over IPv4 and IPv6 on lo: each arrives as sent, from
// the source the control message names, with TTL 255, and a write
// allocates nothing.
func TestRawConnWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  netip.Addr
		vip  netip.Addr
	}{
		{"IPv4", netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.100")},
		{"IPv6", netip.MustParseAddr("::1"), netip.MustParseAddr("2001:db8::100")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inFreshNetns(t, func() {
				lo, err := net.InterfaceByName("lo")
				if err != nil {
					t.Error(err)
					return
				}
				c, err := newRawConn(lo, lo, tc.src, false)
				if err != nil {
					t.Errorf("raw socket: %v", err)
					return
				}
				defer c.Close()
				adv := Advert{Version: 3, Type: TypeAdvertisement, VRID: 7, Priority: 100,
					Interval: 20 * time.Millisecond, Addrs: []netip.Addr{tc.vip}}
				b, err := adv.Marshal(tc.src, tc.src, ChecksumPseudoHeader)
				if err != nil {
					t.Error(err)
					return
				}
				if err := c.WriteTo(b, tc.src); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				buf := make([]byte, 1500)
				r, err := c.ReadFrom(buf)
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				got, err := Parse(buf[:r.Len], r.Src, r.Dst, ChecksumPseudoHeader)
				if err != nil || r.Src != tc.src || r.TTL != 255 || got.Priority != 100 || got.Addrs[0] != tc.vip {
					t.Errorf("received %+v from %v TTL %d (%v), want what was sent from %v with TTL 255", got, r.Src, r.TTL, err, tc.src)
				}
				if n := testing.AllocsPerRun(50, func() {
					if err := c.WriteTo(b, tc.src); err != nil {
						t.Error(err)
					}
				}); n != 0 {
					t.Errorf("a write allocates %v times, want 0", n)
				}
			})
		})
	}
}
