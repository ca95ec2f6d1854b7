package vrrp

import (
	"testing"
	"time"
)

// A listen-only Node (lvsd run --dry-run) hears the live master, and
// when that master goes silent it computes the takeover, but no advert,
// no address and no announcement ever reaches the kernel: every fake
// records nothing.
func TestNodeListenOnlyTouchesNothing(t *testing.T) {
	cfg := nodeConfig()
	cfg.Priority = 200
	h := newHarnessDeps(t, cfg, Deps{ListenOnly: true})
	h.run()
	if len(h.startOps) != 0 {
		t.Errorf("start: %q, want nothing (no leftover VIP removal in a dry run)", h.startOps)
	}
	// A live master of lower priority: a real node would preempt at
	// once; the listening one only says it would.
	h.recvAdvert(100, peerLow)
	h.advance(100 * time.Millisecond)
	for range 30 {
		h.advance(100 * time.Millisecond)
	}
	h.expectOps()
	if s := h.n.Status(); s.State != Master {
		t.Fatalf("state %v, want MASTER (what it would be)", s.State)
	}
	if h.addrs.holds(vip1) || h.addrs.holds(vip2) {
		t.Error("a listen-only node added a VIP")
	}
	// Receiving still works and is counted.
	if s := h.n.Status(); s.Counters.AdvertsReceived == 0 {
		t.Error("no advert counted as received")
	}
	// Stopping as "master" sends no priority-0 advert either.
	h.cancel()
	h.runUntilStopped(5 * time.Second)
	h.expectOps()
}
