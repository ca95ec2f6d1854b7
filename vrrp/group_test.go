package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// groupRig drives two grouped Nodes by hand, on the test's goroutine:
// no Run loops, so every step is deterministic.
type groupRig struct {
	t          *testing.T
	clk        *fakeClock
	a, b       *Node
	logA, logB *opLog
}

func newGroupRig(t *testing.T, track []TrackInterface) *groupRig {
	r := &groupRig{t: t, clk: &fakeClock{now: t0}}
	r.logA, r.logB = &opLog{clock: r.clk}, &opLog{clock: r.clk}
	mk := func(name, ifname string, vrid uint8, vip netip.Prefix, log *opLog) *Node {
		cfg := nodeConfig()
		cfg.Name, cfg.Interface, cfg.VRID, cfg.VIPs, cfg.TrackInterfaces = name, ifname, vrid, []netip.Prefix{vip}, track
		n, err := NewNode(cfg, Deps{Conn: newFakeConn(log, nodeSelf), Addrs: newFakeAddrs(log),
			Announcer: fakeAnnouncer{log}, Clock: r.clk})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	r.a = mk("front", "eth0", 1, vip1, r.logA)
	r.b = mk("gateway", "eth1", 2, netip.MustParsePrefix("198.51.100.1/24"), r.logB)
	if _, err := NewGroup("nat", r.a, r.b); err != nil {
		t.Fatal(err)
	}
	if _, err := NewGroup("again", r.a); err == nil {
		t.Error("a node joined two groups")
	}
	for _, n := range []*Node{r.a, r.b} {
		if err := n.setup(); err != nil {
			t.Fatal(err)
		}
		n.started.Store(true) // as Run does: the group counts running members only
		n.begin()
	}
	r.deliver()
	r.logA.take()
	r.logB.take()
	return r
}

// deliver hands each Node the views the other published, until quiet.
func (r *groupRig) deliver() {
	for range 10 {
		quiet := true
		for _, n := range []*Node{r.a, r.b} {
			select {
			case <-n.mbox.signal:
				n.onMailbox()
				quiet = false
			default:
			}
		}
		if quiet {
			return
		}
	}
	r.t.Fatal("group views still bouncing after 10 rounds")
}

func (r *groupRig) states() (State, State) { return r.a.m.State(), r.b.m.State() }

func lastReason(n *Node) string {
	tr := n.Status().Transitions
	return tr[len(tr)-1].Reason
}

func TestGroupMasterSpreads(t *testing.T) {
	r := newGroupRig(t, nil)
	// A's timer fires first; B follows at once, before its own timer.
	r.clk.set(t0.Add(mdi100))
	r.a.onTimer()
	r.deliver()
	if a, b := r.states(); a != Master || b != Master {
		t.Fatalf("states %v %v, want both MASTER", a, b)
	}
	if why := lastReason(r.b); !strings.Contains(why, "group nat: front became MASTER") {
		t.Errorf("B's reason %q", why)
	}
	if got := r.logB.take(); len(got) < 2 || got[0] != "send 100 to 224.0.0.18" || got[1] != "add 198.51.100.1/24" {
		t.Errorf("B's ops %q", got)
	}
}

// TestGroupAnnouncesTogether: a member that takes its VIPs first adds them
// at once but announces them only when the rest of the group holds theirs
// too, so that hosts on every side learn the new master together (a NAT
// pair's clients and realservers); a member that does not follow delays it
// by groupAnnounce at most.
func TestGroupAnnouncesTogether(t *testing.T) {
	r := newGroupRig(t, nil)
	r.clk.set(t0.Add(mdi100))
	r.a.onTimer()
	r.logA.expect(t, "send 100 to 224.0.0.18", "add 192.0.2.100/24") // no announce yet
	r.deliver()
	r.logB.expect(t, "send 100 to 224.0.0.18", "add 198.51.100.1/24", "announce 198.51.100.1")
	r.logA.expect(t, "announce 192.0.2.100")

	// B stopped: A waits for nobody.
	r2 := newGroupRig(t, nil)
	r2.b.started.Store(false)
	r2.clk.set(t0.Add(mdi100))
	r2.a.onTimer()
	r2.logA.expect(t, "send 100 to 224.0.0.18", "add 192.0.2.100/24", "announce 192.0.2.100")

	// B does not follow (its mail is not delivered): A announces at the bound.
	r3 := newGroupRig(t, nil)
	r3.clk.set(t0.Add(mdi100))
	r3.a.onTimer()
	r3.logA.expect(t, "send 100 to 224.0.0.18", "add 192.0.2.100/24")
	if d := r3.a.nextDeadline(); !d.Equal(t0.Add(mdi100 + groupAnnounce)) {
		t.Fatalf("next deadline %v after taking over, want the group's bound %v", d.Sub(t0), mdi100+groupAnnounce)
	}
	r3.clk.set(t0.Add(mdi100 + groupAnnounce))
	r3.a.onTimer()
	r3.logA.expect(t, "send 100 to 224.0.0.18", "announce 192.0.2.100") // the bound is one advert interval here
}

func TestGroupLeavingMasterSpreads(t *testing.T) {
	r := newGroupRig(t, nil)
	r.clk.set(t0.Add(mdi100))
	r.a.onTimer()
	r.deliver()
	r.logB.take()
	// The peer preempts A: A goes to Backup, B resigns (keeps its VIP
	// until the peer takes it too).
	r.a.do(r.a.m.Receive(r.clk.Now(), Advert{Version: 3, Type: 1, VRID: 1, Priority: 200, Interval: 100 * time.Millisecond, From: peerHigh}))
	r.deliver()
	if a, b := r.states(); a != Backup || b != Resigning {
		t.Fatalf("states %v %v, want BACKUP RESIGNING", a, b)
	}
	r.logB.expect(t, "send 0 to 224.0.0.18")
	r.b.do(r.b.m.Receive(r.clk.Now(), Advert{Version: 3, Type: 1, VRID: 2, Priority: 200, Interval: 100 * time.Millisecond, From: peerHigh}))
	r.deliver()
	r.logB.expect(t) // handoverGrace
	r.clk.set(r.clk.Now().Add(100 * time.Millisecond))
	r.b.onTimer()
	r.logB.expect(t, "remove 198.51.100.1/24")
	if a, b := r.states(); a != Backup || b != Backup {
		t.Fatalf("states %v %v, want both BACKUP", a, b)
	}
}

func TestGroupFaultAndPrioritySpread(t *testing.T) {
	r := newGroupRig(t, []TrackInterface{{"eth9", -60}})
	r.clk.set(t0.Add(mdi100))
	r.a.onTimer()
	r.deliver()
	r.logA.take()
	r.logB.take()
	// A weight on A lowers B too.
	r.a.onLink(linkState{"eth9", false})
	r.deliver()
	r.logA.expect(t, "send 40 to 224.0.0.18")
	r.logB.expect(t, "send 40 to 224.0.0.18")
	// A's own interface down: A faults, so does B.
	r.a.onLink(linkState{"eth0", false})
	r.deliver()
	if a, b := r.states(); a != Fault || b != Fault {
		t.Fatalf("states %v %v, want both FAULT", a, b)
	}
	r.logB.expect(t, "send 0 to 224.0.0.18", "remove 198.51.100.1/24")
	if f := r.b.view.faults; len(f) != 1 || f[0] != "front: interface eth0 down" {
		t.Errorf("B's faults %q", f)
	}
	r.a.onLink(linkState{"eth0", true})
	r.deliver()
	if a, b := r.states(); a != Backup || b != Backup {
		t.Fatalf("states %v %v, want both BACKUP", a, b)
	}
	// A member that stops no longer counts.
	r.a.onLink(linkState{"eth0", false})
	r.deliver()
	r.a.finish()
	r.deliver()
	if a, b := r.states(); a != Initialize || b != Backup || r.b.m.Priority() != 100 {
		t.Fatalf("states %v %v, B priority %d, want INIT BACKUP 100", a, b, r.b.m.Priority())
	}
}

func (l *opLog) expect(t *testing.T, want ...string) {
	t.Helper()
	if got := l.take(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("operations:\n got %q\nwant %q", got, want)
	}
}
