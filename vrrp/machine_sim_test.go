package vrrp

import (
	"net/netip"
	"testing"
	"time"
)

// simNode is one director in a simulated LAN.
type simNode struct {
	m         *Machine
	self      netip.Addr
	down      bool // crashed: neither sends nor hears
	vips      bool
	acquired  time.Time // last AcquireVIPs
	released  time.Time // last ReleaseVIPs
	announces int
}

// simLAN joins Machines with a perfect multicast link that carries every
// advert through Marshal and Validate, so the codec and the Machine are
// tested together. It checks the shell's invariants as it goes.
type simLAN struct {
	t     *testing.T
	now   time.Time
	nodes []*simNode
	cut   bool // partitioned: adverts are lost
	queue []Advert
	// gapFrom is when the last VIP holder let go, while nobody holds them.
	gapFrom time.Time
	gaps    time.Duration // total time without a holder, after the first
}

func newSimLAN(t *testing.T, prios ...uint8) *simLAN {
	l := &simLAN{t: t, now: t0}
	for i, p := range prios {
		self := netip.AddrFrom4([4]byte{192, 0, 2, byte(10 * (i + 1))})
		m, err := NewMachine(Config{VRID: 1, Priority: p, AdvertInterval: time.Second, Preempt: true, Self: self})
		if err != nil {
			t.Fatal(err)
		}
		l.nodes = append(l.nodes, &simNode{m: m, self: self})
	}
	return l
}

// event runs fn on node i at t0+at, after every timer due by then.
func (l *simLAN) event(at time.Duration, i int, fn func(*Machine, time.Time) []Action) {
	l.runUntil(at)
	l.do(i, fn(l.nodes[i].m, l.now))
	l.flush()
}

// runUntil fires timers in time order up to t0+at.
func (l *simLAN) runUntil(at time.Duration) {
	end := t0.Add(at)
	for range 100000 {
		next, who := end, -1
		for i, n := range l.nodes {
			if d := n.m.Deadline(); !n.down && !d.IsZero() && !d.After(next) {
				next, who = d, i
			}
		}
		l.setNow(next)
		if who < 0 {
			return
		}
		l.do(who, l.nodes[who].m.Timeout(l.now))
		l.flush()
	}
	l.t.Fatal("timers never settle")
}

func (l *simLAN) setNow(now time.Time) {
	if now.Before(l.now) {
		l.t.Fatalf("time went back from %v to %v", l.now.Sub(t0), now.Sub(t0))
	}
	l.now = now
}

// do carries out node i's actions as a shell would.
func (l *simLAN) do(i int, acts []Action) {
	n := l.nodes[i]
	for _, act := range acts {
		switch a := act.(type) {
		case SendAdvert:
			l.send(n, a.Priority)
		case AcquireVIPs:
			if n.vips {
				l.t.Fatalf("%v: node %d acquires VIPs it holds", l.now.Sub(t0), i)
			}
			n.vips, n.acquired = true, l.now
		case ReleaseVIPs:
			if !n.vips {
				l.t.Fatalf("%v: node %d releases VIPs it does not hold", l.now.Sub(t0), i)
			}
			n.vips, n.released = false, l.now
		case Announce:
			if !n.vips {
				l.t.Fatalf("%v: node %d announces VIPs it does not hold", l.now.Sub(t0), i)
			}
			n.announces++
		case Became:
			if a.State != n.m.State() || a.State.HoldsVIPs() != n.vips {
				l.t.Fatalf("%v: node %d Became %v, machine %v, holds VIPs %v", l.now.Sub(t0), i, a, n.m.State(), n.vips)
			}
		}
	}
	l.account()
}

func (l *simLAN) send(n *simNode, prio uint8) {
	a := Advert{Version: 3, Type: TypeAdvertisement, VRID: 1, Priority: prio,
		Interval: time.Second, Addrs: addrs("192.0.2.100")}
	b, err := a.Marshal(n.self, mcast4, ChecksumPseudoHeader)
	if err != nil {
		l.t.Fatal(err)
	}
	got, err := Validate(b, 255, n.self, mcast4, Expect{Version: 3, VRID: 1, Addrs: addrs("192.0.2.100")})
	if err != nil {
		l.t.Fatal(err)
	}
	if !l.cut {
		l.queue = append(l.queue, got)
	}
}

// flush delivers queued adverts to every live node but the sender.
func (l *simLAN) flush() {
	for len(l.queue) > 0 {
		a := l.queue[0]
		l.queue = l.queue[1:]
		for i, n := range l.nodes {
			if !n.down && n.self != a.From {
				l.do(i, n.m.Receive(l.now, a))
			}
		}
	}
}

// account tracks time during which nobody holds the VIPs.
func (l *simLAN) account() {
	held := l.holders() > 0
	switch {
	case !held && l.gapFrom.IsZero() && l.everHeld():
		l.gapFrom = l.now
	case held && !l.gapFrom.IsZero():
		l.gaps += l.now.Sub(l.gapFrom)
		l.gapFrom = time.Time{}
	}
}

func (l *simLAN) everHeld() bool {
	for _, n := range l.nodes {
		if !n.acquired.IsZero() {
			return true
		}
	}
	return false
}

func (l *simLAN) holders() int {
	c := 0
	for _, n := range l.nodes {
		if n.vips && !n.down {
			c++
		}
	}
	return c
}

func (l *simLAN) expect(states ...State) {
	l.t.Helper()
	for i, n := range l.nodes {
		if n.m.State() != states[i] {
			l.t.Fatalf("%v: node %d is %v, want %v", l.now.Sub(t0), i, n.m.State(), states[i])
		}
	}
}

func TestSimElectionAndCrash(t *testing.T) {
	l := newSimLAN(t, 200, 100)
	l.event(0, 0, (*Machine).Start)
	l.event(0, 1, (*Machine).Start)
	l.runUntil(10 * time.Second)
	l.expect(Master, Backup)
	if got := l.nodes[0].acquired.Sub(t0); got != md200 {
		t.Errorf("node 0 took over at %v, want Master_Down_Interval %v", got, md200)
	}
	lastAdvert := t0.Add(md200 + 6*time.Second) // adverts at md200 + k seconds
	l.nodes[0].down = true
	l.runUntil(20 * time.Second)
	l.expect(Master, Master) // node 0 is dead, its Machine frozen
	if got, want := l.nodes[1].acquired.Sub(lastAdvert), md100; got != want {
		t.Errorf("node 1 took over %v after the last advert, want Master_Down_Interval %v", got, want)
	}
}

func TestSimShutdownHandsOverAfterSkew(t *testing.T) {
	l := newSimLAN(t, 200, 100)
	l.event(0, 0, (*Machine).Start)
	l.event(0, 1, (*Machine).Start)
	l.event(10*time.Second, 0, (*Machine).Shutdown)
	l.runUntil(20 * time.Second)
	l.expect(Initialize, Master)
	if got := l.nodes[1].acquired.Sub(t0); got != 10*time.Second+skew100 {
		t.Errorf("node 1 took over at %v, want 10s + Skew_Time = %v", got, 10*time.Second+skew100)
	}
}

func TestSimResignWithoutGap(t *testing.T) {
	l := newSimLAN(t, 200, 100)
	l.event(0, 0, (*Machine).Start)
	l.event(0, 1, (*Machine).Start)
	l.event(10*time.Second, 0, (*Machine).Resign)
	l.expect(Resigning, Backup)
	l.runUntil(12 * time.Second)
	l.expect(Backup, Master)
	a, b := l.nodes[0], l.nodes[1]
	if want := 10*time.Second + skew100; b.acquired.Sub(t0) != want || a.released.Sub(t0) != want {
		t.Errorf("node 1 acquired at %v, node 0 released at %v; want both at 10s + Skew_Time = %v",
			b.acquired.Sub(t0), a.released.Sub(t0), want)
	}
	if l.gaps != 0 {
		t.Errorf("nobody held the VIPs for %v during the switchover", l.gaps)
	}
	// Node 0 yields for one Master_Down_Interval, then preempts node 1.
	l.runUntil(30 * time.Second)
	l.expect(Master, Backup)
	if took := a.acquired.Sub(a.released); took < md200 {
		t.Errorf("node 0 took the VIPs back %v after resigning, before its yield of %v ended", took, md200)
	}
}

func TestSimResignAndLowerPriorityStays(t *testing.T) {
	l := newSimLAN(t, 200, 100)
	l.event(0, 0, (*Machine).Start)
	l.event(0, 1, (*Machine).Start)
	l.event(10*time.Second, 0, func(m *Machine, now time.Time) []Action {
		return append(m.SetPriority(now, 50), m.Resign(now)...)
	})
	l.runUntil(60 * time.Second)
	l.expect(Backup, Master)
	if l.gaps != 0 || l.holders() != 1 {
		t.Errorf("gaps %v, holders %d: want a clean, lasting switchover", l.gaps, l.holders())
	}
}

func TestSimSplitBrainHeal(t *testing.T) {
	l := newSimLAN(t, 200, 100)
	l.cut = true
	l.event(0, 0, (*Machine).Start)
	l.event(0, 1, (*Machine).Start)
	// Node 0 advertises at md200 + k s, node 1 at md100 + k s. Heal the
	// link between node 0's advert at 10.21875s and node 1's at 10.609375s,
	// so the winner hears the loser first.
	l.runUntil(10300 * ms)
	l.expect(Master, Master)
	l.cut = false
	heard := md100 + 7*time.Second
	l.runUntil(heard)
	l.expect(Master, Backup)
	if l.holders() != 1 || l.nodes[0].announces != 1 {
		t.Errorf("holders %d, winner's announces %d: want the winner alone, re-announced once",
			l.holders(), l.nodes[0].announces)
	}
	if got := l.nodes[1].released.Sub(t0); got != heard {
		t.Errorf("loser released at %v, want at once, %v", got, heard)
	}
}
