package vrrp

import (
	"testing"
	"time"
)

// TestHeldBackupDoesNotPreemptBeforeItsRealserversAreUp is the regression
// test of the VM soak's return before the checks had risen (issue 14): a
// director whose links came back preempted its peer while its own health
// checks still said every realserver was down, so clients were refused.
// While the engine holds its preemption, a higher-priority backup keeps
// following a live lower-priority master; released, it preempts.
func TestHeldBackupDoesNotPreemptBeforeItsRealserversAreUp(t *testing.T) {
	cfg := nodeConfig()
	cfg.Priority = 200
	h := newHarness(t, cfg)
	h.run()
	h.call(func() { h.n.setHold("service echo: no realserver up") })
	if got := h.n.Status().PreemptHold; got != "service echo: no realserver up" {
		t.Errorf("status: preempt hold %q", got)
	}
	for range 50 { // 5 s of a live master of priority 100
		h.recvAdvert(100, peerLow)
		h.advance(100 * time.Millisecond)
	}
	if s := h.n.Status(); s.State != Backup || s.Master != peerLow || s.Priority != 200 {
		t.Fatalf("held: %v following %v at priority %d, want BACKUP following %v at 200", s.State, s.Master, s.Priority, peerLow)
	}
	if h.addrs.holds(vip1) {
		t.Fatal("held backup took the VIPs from a live master")
	}
	h.log.take()
	// Released, it preempts: the next lower advert is discarded and its
	// Master_Down_Timer runs out.
	h.call(func() { h.n.setHold("") })
	for range 10 {
		h.recvAdvert(100, peerLow)
		h.advance(100 * time.Millisecond)
	}
	if s := h.state(); s != Master {
		t.Fatalf("released: state %v, want MASTER (preempted)", s)
	}
}

// TestHeldBackupStillTakesOverFromADeadMaster: the hold never leaves the
// VIPs without a holder. A held backup takes over when the master goes
// silent (Master_Down_Interval, at its own priority's Skew_Time) and when
// it resigns (priority 0: Skew_Time).
func TestHeldBackupStillTakesOverFromADeadMaster(t *testing.T) {
	t.Run("silent", func(t *testing.T) {
		h := newHarness(t, nodeConfig())
		h.run()
		h.call(func() { h.n.setHold("service echo: waiting for the first health check results") })
		for range 10 {
			h.recvAdvert(50, peerLow)
			h.advance(100 * time.Millisecond)
		}
		if s := h.state(); s != Backup {
			t.Fatalf("state %v with a live master, want BACKUP", s)
		}
		h.log.take()
		h.advance(mdi100 - 100*time.Millisecond - time.Nanosecond)
		h.expectOps()
		h.advance(time.Nanosecond)
		if s := h.state(); s != Master || !h.addrs.holds(vip1) {
			t.Fatalf("state %v, holds %v, Master_Down_Interval after the last advert: want MASTER with the VIPs", s, h.addrs.holds(vip1))
		}
	})
	t.Run("resigned", func(t *testing.T) {
		h := newHarness(t, nodeConfig())
		h.run()
		h.call(func() { h.n.setHold("service echo: no realserver up") })
		for range 10 {
			h.recvAdvert(50, peerLow)
			h.advance(100 * time.Millisecond)
		}
		h.recvAdvert(0, peerLow)
		h.advance(100 * time.Millisecond) // Skew_Time at 100 is 61ms
		if s := h.state(); s != Master {
			t.Fatalf("state %v after the master resigned, want MASTER", s)
		}
	})
}
