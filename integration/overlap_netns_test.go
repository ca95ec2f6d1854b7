//go:build integration && !ipvs

package integration

import (
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// addrEvents records when the VIP is added to and removed from e0 in a
// namespace, from the kernel's own address notifications (not polling).
type addrEvents struct {
	mu        sync.Mutex
	added     []time.Time
	removed   []time.Time
	done      chan struct{}
	closeOnce sync.Once
}

func watchVIP(t *testing.T, ns string, vip netip.Addr) *addrEvents {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ev := &addrEvents{done: make(chan struct{})}
	ch := make(chan netlink.AddrUpdate, 64)
	if err := netlink.AddrSubscribeWithOptions(ch, ev.done, netlink.AddrSubscribeOptions{Namespace: &h}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.closeOnce.Do(func() { close(ev.done) }) })
	go func() {
		for u := range ch {
			now := time.Now()
			if a, ok := netip.AddrFromSlice(u.LinkAddress.IP); !ok || a.Unmap() != vip {
				continue
			}
			ev.mu.Lock()
			if u.NewAddr {
				ev.added = append(ev.added, now)
			} else {
				ev.removed = append(ev.removed, now)
			}
			ev.mu.Unlock()
		}
	}()
	return ev
}

// last returns the last addition and removal seen.
func (e *addrEvents) last() (added, removed time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(e.added); n > 0 {
		added = e.added[n-1]
	}
	if n := len(e.removed); n > 0 {
		removed = e.removed[n-1]
	}
	return added, removed
}

// TestPlannedMoveOverlapIsOneAdvertInterval measures, from the kernel's
// address notifications, how long both directors hold the VIP at the
// planned moves the VM soak saw two holders at (issue 14, seed 7, #112:
// 276 ms past the bound of two advert intervals + 60 ms): a SIGTERM with
// handover.on_stop (the master resigns and keeps the VIP until it hears
// the new master) and the preempting return after it (the master steps
// down to the better one). In both the director that lets go keeps the
// VIP one advert interval after it heard the new master's first advert
// (vrrp handoverGrace, by design: the new master adds the VIP only after
// that advert, and clients follow only after an announcement), so the
// overlap is one interval plus the time the loser takes to handle the
// advert, its timer and the address removal. Here (100 ms adverts, no
// emulation) it stays within one interval + 80 ms (101-104 ms measured).
func TestPlannedMoveOverlapIsOneAdvertInterval(t *testing.T) {
	const interval = 100 * time.Millisecond
	p := newPair(t)
	vip := netip.MustParseAddr(pairVIP)
	ev := map[string]*addrEvents{"a": watchVIP(t, p.ns["a"], vip), "b": watchVIP(t, p.ns["b"], vip)}
	p.start("a")
	p.start("b")
	p.waitMaster("a", 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	overlap := func(winner, loser string) time.Duration {
		t.Helper()
		var won, lost time.Time
		p.l.WaitFor(5*time.Second, winner+" holds the VIP and "+loser+" let go", func() bool {
			var lostAdded time.Time
			won, _ = ev[winner].last()
			lostAdded, lost = ev[loser].last()
			return !won.IsZero() && lost.After(lostAdded) && lost.After(won.Add(-time.Second))
		})
		return lost.Sub(won)
	}
	// SIGTERM: a resigns, b takes over, a lets go.
	if err := p.proc["a"].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.proc["a"].Exited()
	stop := overlap("b", "a")
	// The preempting return: a back, b steps down.
	p.start("a")
	p.waitMaster("a", 10*time.Second)
	back := overlap("a", "b")
	t.Logf("two holders: %v at the SIGTERM, %v at the preempting return (advert interval %v)", stop.Round(time.Millisecond), back.Round(time.Millisecond), interval)
	for what, d := range map[string]time.Duration{"SIGTERM": stop, "preempting return": back} {
		if d > interval+80*time.Millisecond {
			t.Errorf("%s: two holders for %v, more than one advert interval + 80ms", what, d)
		}
		if d < interval-10*time.Millisecond {
			t.Errorf("%s: two holders for %v: the one that lets go kept the VIP less than its grace (%v)", what, d, interval)
		}
	}
}
