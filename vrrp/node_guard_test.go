package vrrp

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestNodeSpeaksForTheWinner: a master that hears a better master (a
// split brain healing, or a preemption) sends its last advert, keeps its
// VIPs for one advert interval, learns the winner's MAC with a probe of
// the winner's address and announces every VIP at that MAC at once, and
// again at the end of the grace: clients move to the winner even if the
// winner never announces.
func TestNodeSpeaksForTheWinner(t *testing.T) {
	h, w := newGuardHarness(t, nodeConfig(), ownMAC)
	h.run()
	h.becomeMaster()
	origin := h.clk.Now()
	h.recvAdvert(200, peerHigh)
	h.advance(time.Millisecond)
	h.see(w, Sighting{Addr: peerHigh, MAC: winnerMAC, EthSrc: winnerMAC, Kind: ClaimReply})
	h.advance(99 * time.Millisecond)
	h.recvAdvert(200, peerHigh)
	h.advance(200 * time.Millisecond) // within Master_Down_Interval
	want := []string{
		"0s send 100 to 224.0.0.18", "0s probe 192.0.2.20",
		"1ms announce 192.0.2.100 at 02:00:00:00:00:20", "1ms announce 192.0.2.101 at 02:00:00:00:00:20",
		"100ms remove 192.0.2.100/24", "100ms remove 192.0.2.101/24",
		"100ms announce 192.0.2.100 at 02:00:00:00:00:20", "100ms announce 192.0.2.101 at 02:00:00:00:00:20",
	}
	if got := h.opsSince(origin); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("step-down:\n got %q\nwant %q", got, want)
	}
	if c := h.n.Status().Counters; c.ProxyAnnounces != 8 || c.Probes != 1 {
		t.Errorf("proxy announces %d, probes %d; want 8 (2 rounds, 2 VIPs, 2 packets) and 1", c.ProxyAnnounces, c.Probes)
	}
}

// TestNodeProxyOnlyForTheWinner: the proxy announcements need the MAC of
// the master we now follow; another host's sighting, a late one, or a
// virtual MAC (both routers announce the same MAC) make none.
func TestNodeProxyOnlyForTheWinner(t *testing.T) {
	t.Run("unresolved", func(t *testing.T) {
		h, w := newGuardHarness(t, nodeConfig(), ownMAC)
		h.run()
		h.becomeMaster()
		h.recvAdvert(200, peerHigh)
		h.see(w, Sighting{Addr: peerLow, MAC: otherMAC, EthSrc: otherMAC, Kind: ClaimReply})
		for range 12 { // past proxyWait
			h.advance(100 * time.Millisecond)
			h.recvAdvert(200, peerHigh)
		}
		h.see(w, Sighting{Addr: peerHigh, MAC: winnerMAC, EthSrc: winnerMAC, Kind: ClaimReply})
		if ops := strings.Join(h.log.take(), ","); strings.Contains(ops, " at ") {
			t.Errorf("proxy announcement without the winner's MAC in time: %s", ops)
		}
	})
	t.Run("virtual MAC", func(t *testing.T) {
		cfg := nodeConfig()
		cfg.VirtualMAC = true
		h, _ := newGuardHarness(t, cfg, VirtualMAC(cfg.VRID, true))
		h.run()
		h.becomeMaster()
		origin := h.clk.Now()
		h.recvAdvert(200, peerHigh)
		h.advance(100 * time.Millisecond)
		h.recvAdvert(200, peerHigh)
		h.advance(100 * time.Millisecond)
		// No proxy (both routers announce the same MAC), and the VIPs stay
		// two advert intervals: until the winner's advert has moved the
		// virtual MAC back to its port in the switches.
		want := []string{"0s send 100 to 224.0.0.18", "200ms remove 192.0.2.100/24", "200ms remove 192.0.2.101/24"}
		if got := h.opsSince(origin); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("step-down with a virtual MAC:\n got %q\nwant %q", got, want)
		}
	})
}

// TestNodeListenOnlyWatchesNothing: a dry run has no guard, since it may
// not probe: claims it would see are not conflicts, and it sends nothing.
func TestNodeListenOnlyWatchesNothing(t *testing.T) {
	clk := &fakeClock{now: t0}
	w := &fakeWatcher{own: ownMAC, in: make(chan Sighting), closed: make(chan struct{})}
	h := newHarnessDeps(t, nodeConfig(), Deps{Watcher: w, Clock: clk, ListenOnly: true})
	w.log = h.log
	h.run()
	h.advance(time.Second) // "master": it hears nobody
	select {
	case <-w.closed:
	default:
		t.Fatal("the watcher of a dry run is still open")
	}
	if c := h.n.Status().Counters; c.Conflicts != 0 || c.Probes != 0 {
		t.Errorf("dry run: %d conflicts, %d probes; want none", c.Conflicts, c.Probes)
	}
}

// TestNodeConflictHook: a master that sees another host announce one of
// its VIPs (a split brain in progress) tells OnConflict at once, ahead of
// the heal; the director arms its reset hold and relay then.
func TestNodeConflictHook(t *testing.T) {
	calls := make(chan struct{}, 4)
	clk := &fakeClock{now: t0}
	w := &fakeWatcher{own: ownMAC, in: make(chan Sighting), closed: make(chan struct{})}
	h := newHarnessDeps(t, nodeConfig(), Deps{Watcher: w, Clock: clk, OnConflict: func() { calls <- struct{}{} }})
	w.log = h.log
	h.run()
	h.becomeMaster()
	if len(calls) != 0 {
		t.Fatalf("OnConflict called %d times at the takeover, want 0", len(calls))
	}
	h.see(w, garp(vip1, otherMAC))
	select {
	case <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("no OnConflict when another host announced a VIP")
	}
	if c := h.n.Status().Counters; c.Conflicts != 1 {
		t.Errorf("%d conflicts counted, want 1", c.Conflicts)
	}
}
