package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Master_Down_Interval at priority 100 with a 100ms interval (RFC 5798
// §6.1): 3 * 100ms + (256-100) * 100ms / 256.
const mdi100 = 300*time.Millisecond + 156*100*time.Millisecond/256

func TestNodeTakeoverAfterMasterDown(t *testing.T) {
	h := newHarness(t, nodeConfig())
	h.run()
	if s := h.n.Status(); s.State != Backup {
		t.Fatalf("state after start %v, want BACKUP", s.State)
	}
	// A backup must not hold the VIPs: it removes any a crash left.
	if want := "[remove 192.0.2.100/24 remove 192.0.2.101/24]"; fmt.Sprint(h.startOps) != want {
		t.Errorf("start: %q, want %s", h.startOps, want)
	}
	// A live master of higher priority keeps us in Backup.
	for range 10 {
		h.recvAdvert(200, peerHigh)
		h.advance(100 * time.Millisecond)
	}
	h.expectOps()
	if s := h.n.Status(); s.State != Backup || s.Master != peerHigh {
		t.Fatalf("status %v master %v, want BACKUP following %v", s.State, s.Master, peerHigh)
	}
	// It goes silent: we take over exactly Master_Down_Interval after its
	// last advert, and do it in the RFC's order: advert, addresses, then
	// gratuitous ARP.
	last := h.clk.Now().Add(-100 * time.Millisecond)
	h.advance(mdi100 - 100*time.Millisecond - time.Nanosecond)
	h.expectOps()
	h.advance(time.Nanosecond)
	h.expectOps("send 100 to 224.0.0.18", "add 192.0.2.100/24", "add 192.0.2.101/24",
		"announce 192.0.2.100", "announce 192.0.2.101")
	tr := <-h.trans // BACKUP at start
	tr = <-h.trans
	if tr.To != Master || tr.From != Backup || tr.Time.Sub(last) != mdi100 {
		t.Errorf("transition %+v, want BACKUP->MASTER %v after the last advert", tr, mdi100)
	}
}

func TestNodeElection(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prio      uint8
		peer      uint8
		from      netip.Addr
		wantState State
	}{
		{"peer higher", 100, 200, peerLow, Backup},
		{"we are higher and preempt", 200, 100, peerHigh, Master},
		{"equal, peer address greater", 100, 100, peerHigh, Backup},
		// RFC 5798 §6.4.2: a backup defers to an advert of equal priority
		// whatever the address; the address decides between two masters.
		{"equal, our address greater", 100, 100, peerLow, Backup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nodeConfig()
			cfg.Priority = tc.prio
			h := newHarness(t, cfg)
			h.run()
			// The peer is master and advertises; as master we would answer.
			for range 20 {
				h.recvAdvert(tc.peer, tc.from)
				h.advance(100 * time.Millisecond)
			}
			if s := h.state(); s != tc.wantState {
				t.Errorf("state %v, want %v", s, tc.wantState)
			}
			if got := h.addrs.holds(vip1); got != (tc.wantState == Master) {
				t.Errorf("holds VIP %v in state %v", got, tc.wantState)
			}
		})
	}
}

func TestNodeMasterAdvertisesAndStepsDown(t *testing.T) {
	h := newHarness(t, nodeConfig())
	h.run()
	h.becomeMaster()
	h.advance(300 * time.Millisecond)
	// Announce rounds ended within the first second; now only adverts.
	h.expectOps("send 100 to 224.0.0.18", "send 100 to 224.0.0.18", "send 100 to 224.0.0.18")
	h.recvAdvert(150, peerLow)
	// One last advert tells the winner; the addresses go one advert
	// interval later, so that connections accepted just before finish
	// while the clients move to the winner.
	h.expectOps("send 100 to 224.0.0.18")
	h.advance(100*time.Millisecond - time.Nanosecond)
	h.expectOps()
	h.advance(time.Nanosecond)
	h.expectOps("remove 192.0.2.100/24", "remove 192.0.2.101/24")
	if s := h.n.Status(); s.State != Backup || s.Master != peerLow {
		t.Errorf("status %v following %v, want BACKUP following %v", s.State, s.Master, peerLow)
	}
}

func TestNodeAnnounceRepeatsDoNotBlock(t *testing.T) {
	cfg := nodeConfig()
	cfg.VIPs = cfg.VIPs[:1]
	cfg.Announce = AnnounceConfig{Repeat: 4, Interval: 70 * time.Millisecond, Refresh: 500 * time.Millisecond}
	h := newHarness(t, cfg)
	h.run()
	h.advance(mdi100)
	takeover := h.clk.Now()
	h.advance(70 * time.Millisecond)
	// Between repeats the node still handles adverts: a lower-priority
	// master is answered at once (split-brain heal), which restarts the
	// announcements: four rounds from now, 70ms apart.
	h.recvAdvert(50, peerLow)
	h.advance(630 * time.Millisecond)
	ops, times := h.log.takeTimed()
	var got []string
	for i, op := range ops {
		got = append(got, fmt.Sprintf("%v %s", times[i].Sub(takeover), op))
	}
	want := []string{
		"0s send 100 to 224.0.0.18", "0s add 192.0.2.100/24", "0s announce 192.0.2.100",
		"70ms announce 192.0.2.100",
		"70ms send 100 to 224.0.0.18", "70ms announce 192.0.2.100", // heal, burst restarts
		"140ms announce 192.0.2.100",
		"170ms send 100 to 224.0.0.18",
		"210ms announce 192.0.2.100",
		"270ms send 100 to 224.0.0.18",
		"280ms announce 192.0.2.100", // fourth and last of the burst
		"370ms send 100 to 224.0.0.18",
		"470ms send 100 to 224.0.0.18",
		"500ms announce 192.0.2.100", // refresh
		"570ms send 100 to 224.0.0.18",
		"670ms send 100 to 224.0.0.18",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("timeline:\n got %q\nwant %q", got, want)
	}
	h.recvAdvert(200, peerHigh)
	h.expectOps("send 100 to 224.0.0.18")
	h.advance(mdi100 - time.Millisecond)
	h.expectOps("remove 192.0.2.100/24") // after the grace; no refresh, no repeats once released
	if c := h.n.Status().Counters; c.AnnouncesSent != 2*7 {
		t.Errorf("AnnouncesSent %d, want 14 (7 rounds of 2 packets)", c.AnnouncesSent)
	}
}

func TestNodeStopShutsDown(t *testing.T) {
	h := newHarness(t, nodeConfig())
	h.run()
	h.becomeMaster()
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	h.expectOps("send 0 to 224.0.0.18", "remove 192.0.2.100/24", "remove 192.0.2.101/24")
	s := h.n.Status()
	if s.State != Initialize || s.Transitions[len(s.Transitions)-1].Reason != "shutdown" {
		t.Errorf("after stop: %+v", s)
	}
}

func TestNodeStopHandsOver(t *testing.T) {
	cfg := nodeConfig()
	cfg.Handover = Handover{OnStop: true, Timeout: time.Second}
	for _, peerTakes := range []bool{true, false} {
		t.Run(fmt.Sprintf("peer takes over %v", peerTakes), func(t *testing.T) {
			h := newHarness(t, cfg)
			h.run()
			h.becomeMaster()
			h.cancel()
			h.waitIdle()
			// Resigning: priority 0, addresses kept.
			h.expectOps("send 0 to 224.0.0.18")
			h.advance(100 * time.Millisecond)
			h.expectOps("send 0 to 224.0.0.18")
			start := h.clk.Now()
			if peerTakes {
				h.conn.in <- h.packet(Advert{Priority: 90}, peerLow, MulticastIPv4)
				h.waitIdle()
				h.expectOps() // the VIPs stay for one more interval (handoverGrace)
			}
			h.runUntilStopped(2 * time.Second)
			if err := h.stop(); err != nil {
				t.Fatal(err)
			}
			ops := h.log.take()
			if n := len(ops); n < 2 || ops[n-2] != "remove 192.0.2.100/24" || ops[n-1] != "remove 192.0.2.101/24" {
				t.Errorf("ops after resign %q, want the removals last", ops)
			}
			took := h.clk.Now().Sub(start)
			if !peerTakes && (took < 800*time.Millisecond || took > time.Second) {
				t.Errorf("without a new master, stop took %v, want the 1s resign timeout", took)
			}
			if peerTakes && took != 100*time.Millisecond {
				t.Errorf("with a new master, stop took %v, want the 100ms grace", took)
			}
		})
	}
}

func TestNodeDrops(t *testing.T) {
	cfg := nodeConfig()
	cfg.Unicast = Unicast{Peers: []netip.Addr{peerHigh}}
	h := newHarness(t, cfg)
	h.run()
	good := h.packet(Advert{Priority: 200}, peerHigh, nodeSelf)
	ttl := good
	ttl.r.TTL = 64
	sum := h.packet(Advert{Priority: 200}, peerHigh, nodeSelf)
	sum.b[7] ^= 0xff
	vrid := h.packet(Advert{Version: 3, Type: 1, VRID: 8, Priority: 200, Interval: time.Second,
		Addrs: []netip.Addr{vip1.Addr()}}, peerHigh, nodeSelf)
	stranger := h.packet(Advert{Priority: 200}, peerLow, nodeSelf)
	short := fakePkt{b: []byte{0x31}, r: good.r}
	for _, p := range []fakePkt{ttl, sum, vrid, stranger, short, stranger} {
		h.conn.in <- p
	}
	h.conn.in <- good // the only one that wakes the node
	h.waitIdle()
	c := h.n.Status().Counters
	want := map[DropReason]uint64{ReasonTTL: 1, ReasonChecksum: 1, ReasonVRID: 1, ReasonNotPeer: 2, ReasonShort: 1}
	if fmt.Sprint(c.Drops) != fmt.Sprint(want) || c.AdvertsReceived != 1 {
		t.Errorf("drops %v received %d, want %v and 1", c.Drops, c.AdvertsReceived, want)
	}
	// Unicast: we advertise to the peer only.
	h.advance(time.Second)
	if ops := h.log.take(); len(ops) == 0 || ops[0] != "send 100 to 192.0.2.20" {
		t.Errorf("unicast ops %q, want sends to the peer", ops)
	}
}

func TestNodeReadErrorStops(t *testing.T) {
	h := newHarness(t, nodeConfig())
	h.run()
	h.becomeMaster()
	h.conn.in <- fakePkt{err: errors.New("boom")}
	select {
	case err := <-h.runErr:
		h.runErr <- err
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("Run returned %v, want the read error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after a read error")
	}
	h.expectOps("send 0 to 224.0.0.18", "remove 192.0.2.100/24", "remove 192.0.2.101/24")
	if c := h.n.Status().Counters; c.ReadErrors != 1 {
		t.Errorf("ReadErrors %d, want 1", c.ReadErrors)
	}
}

func TestNodeAddressRetry(t *testing.T) {
	h := newHarness(t, nodeConfig())
	h.addrs.fail[vip2] = 2
	h.run()
	h.advance(mdi100)
	h.expectOps("send 100 to 224.0.0.18", "add 192.0.2.100/24", "add 192.0.2.101/24 failed",
		"announce 192.0.2.100")
	h.advance(50 * time.Millisecond) // repeat of the held one only
	h.expectOps("announce 192.0.2.100")
	h.advance(50 * time.Millisecond) // advert, last repeat, and the retry one interval later
	h.expectOps("send 100 to 224.0.0.18", "announce 192.0.2.100", "add 192.0.2.101/24 failed")
	h.advance(100 * time.Millisecond)
	h.expectOps("send 100 to 224.0.0.18", "add 192.0.2.101/24", "announce 192.0.2.100", "announce 192.0.2.101")
	if c := h.n.Status().Counters; c.AddrErrors != 2 {
		t.Errorf("AddrErrors %d, want 2", c.AddrErrors)
	}
	if s := h.state(); s != Master {
		t.Errorf("state %v, want MASTER despite the failures", s)
	}
}

func TestNodeSwitchover(t *testing.T) {
	h := newHarness(t, nodeConfig())
	h.run()
	if err := switchover(h); !errors.Is(err, ErrNotMaster) {
		t.Errorf("Switchover as backup: %v, want ErrNotMaster", err)
	}
	h.becomeMaster()
	if err := switchover(h, func() {
		h.expectOps("send 0 to 224.0.0.18") // resigned, addresses kept
		h.recvAdvert(100, peerLow)
	}); err != nil {
		t.Errorf("Switchover with a new master: %v", err)
	}
	h.advance(100*time.Millisecond - time.Nanosecond)
	h.expectOps() // handoverGrace
	h.advance(time.Nanosecond)
	h.expectOps("remove 192.0.2.100/24", "remove 192.0.2.101/24")
	// Yielding for one Master_Down_Interval, then preempting again.
	h.advance(mdi100 - 90*time.Millisecond)
	if s := h.state(); s != Master {
		t.Fatalf("state %v, want MASTER again", s)
	}
	if err := switchover(h, func() { h.advance(time.Second) }); !errors.Is(err, ErrResignTimeout) {
		t.Errorf("Switchover without a peer: %v, want ErrResignTimeout", err)
	}
}

// TestNodeSwitchoverEndedByAFault is the regression test of the VM
// soak's fault-recovery violation (issue 14, seed 7, #106-#107): a
// switchover was under way when the master's link went down; the resign
// ended in FAULT, the VIPs were released, and Switchover answered
// "vrrp: node stopped", which it had not. It says what happened now
// (ErrResignFault, with the fault), and the director treats it as a
// handover that was not graceful (director/switchover.go).
func TestNodeSwitchoverEndedByAFault(t *testing.T) {
	cfg := nodeConfig()
	cfg.TrackInterfaces = []TrackInterface{{"eth3", 0}}
	h := newHarness(t, cfg)
	h.run()
	h.becomeMaster()
	err := switchover(h, func() {
		h.expectOps("send 0 to 224.0.0.18") // resigned, addresses kept
		h.links.ch <- linkState{"eth3", false}
		h.waitIdle()
	})
	if !errors.Is(err, ErrResignFault) || errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), "interface eth3 down") {
		t.Errorf("Switchover ended by a link down: %v, want ErrResignFault naming the link", err)
	}
	if s := h.state(); s != Fault {
		t.Errorf("state %v, want FAULT", s)
	}
}

// switchover calls Switchover while the test drives the node with then.
func switchover(h *harness, then ...func()) error {
	errc := make(chan error, 1)
	go func() { errc <- h.n.Switchover(context.Background()) }()
	h.waitIdle() // the Switchover call
	for _, f := range then {
		f()
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(10 * time.Second):
		h.t.Fatal("Switchover did not return")
		return nil
	}
}

func TestNodeSetPriority(t *testing.T) {
	h := newHarness(t, nodeConfig())
	h.run()
	h.becomeMaster()
	done := make(chan error, 1)
	go func() { done <- h.n.SetPriority(context.Background(), 42) }()
	h.waitIdle()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h.expectOps("send 42 to 224.0.0.18")
	if p := h.n.Status().Priority; p != 42 {
		t.Errorf("priority %d, want 42", p)
	}
	if err := h.n.SetPriority(context.Background(), 0); err == nil {
		t.Error("SetPriority(0) succeeded")
	}
}

func TestNodeStatusKeepsLast20Transitions(t *testing.T) {
	h := newHarness(t, nodeConfig())
	h.run()
	for range 15 { // two transitions each
		h.advance(mdi100)
		h.recvAdvert(200, peerHigh)
	}
	s := h.n.Status()
	if len(s.Transitions) != 20 || s.Counters.Transitions != 31 {
		t.Fatalf("%d transitions kept of %d, want 20 of 31", len(s.Transitions), s.Counters.Transitions)
	}
	if last := s.Transitions[19]; last.To != Backup || last.From != Master || s.Since != last.Time {
		t.Errorf("last transition %+v, since %v", last, s.Since)
	}
	// Each takeover sends an advert, and each step-down one more.
	if s.Counters.AdvertsReceived != 15 || s.Counters.AdvertsSent != 30 || s.Name != "web" || s.VRID != 7 {
		t.Errorf("status %+v", s)
	}
}

// TestNodeLateAnnounce: a burst shorter than the neighbour locktime gets
// one more round 1.1 s after it began, so a client that ignored the burst
// (it had just followed the other node) follows this one all the same.
func TestNodeLateAnnounce(t *testing.T) {
	cfg := nodeConfig()
	cfg.VIPs = cfg.VIPs[:1]
	cfg.Announce = AnnounceConfig{Repeat: 2, Interval: 100 * time.Millisecond}
	h := newHarness(t, cfg)
	h.run()
	h.advance(mdi100)
	takeover := h.clk.Now()
	h.advance(1200 * time.Millisecond)
	ops, times := h.log.takeTimed()
	var got []string
	for i, op := range ops {
		if strings.HasPrefix(op, "announce") {
			got = append(got, fmt.Sprintf("%v %s", times[i].Sub(takeover), op))
		}
	}
	want := []string{"0s announce 192.0.2.100", "100ms announce 192.0.2.100", "1.1s announce 192.0.2.100"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("announcements:\n got %q\nwant %q", got, want)
	}
	// Released afterwards: the addresses go, after the grace.
	h.recvAdvert(200, peerHigh)
	h.advance(100 * time.Millisecond)
	h.expectOps("send 100 to 224.0.0.18", "remove 192.0.2.100/24")
}

// TestNodeReannounceHook: a master that hears a lower-priority master (the
// heal of a split brain) announces again and tells OnReannounce, which the
// director uses to arm its reset hold and relay as for a takeover; taking
// the addresses over is a transition, not a re-announce.
func TestNodeReannounceHook(t *testing.T) {
	calls := make(chan struct{}, 4)
	h := newHarnessDeps(t, nodeConfig(), Deps{OnReannounce: func() { calls <- struct{}{} }})
	h.run()
	h.becomeMaster()
	h.advance(300 * time.Millisecond)
	h.expectOps("send 100 to 224.0.0.18", "send 100 to 224.0.0.18", "send 100 to 224.0.0.18")
	if len(calls) != 0 {
		t.Fatalf("OnReannounce called %d times at the takeover, want 0", len(calls))
	}
	h.recvAdvert(50, peerLow)
	h.expectOps("send 100 to 224.0.0.18", "announce 192.0.2.100", "announce 192.0.2.101")
	select {
	case <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("no OnReannounce at the heal")
	}
	if s := h.n.Status(); s.State != Master {
		t.Errorf("state %v after a lower-priority advert, want MASTER", s.State)
	}
}
