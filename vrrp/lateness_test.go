package vrrp

import (
	"net/netip"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// TestLatenessRecord checks the buckets' edges: a bound belongs to its
// own bucket, beyond the last one counts in the overflow, a negative
// lateness counts as on time.
func TestLatenessRecord(t *testing.T) {
	var l Lateness
	for _, d := range []time.Duration{-time.Millisecond, 0, 50 * time.Microsecond, 51 * time.Microsecond,
		time.Millisecond, 3 * time.Millisecond, time.Second, 2 * time.Second} {
		l.record(d)
	}
	want := map[int]uint64{0: 3, 1: 1, 4: 1, 6: 1, 11: 1, 12: 1}
	for i, n := range l.Buckets {
		if n != want[i] {
			t.Errorf("bucket %d (<= %v): %d, want %d", i, bound(i), n, want[i])
		}
	}
	if l.Count != 8 || l.Max != 2*time.Second || l.Sum != 3*time.Second+4*time.Millisecond+101*time.Microsecond {
		t.Errorf("count %d max %v sum %v", l.Count, l.Max, l.Sum)
	}
	if q := l.Quantile(0.5); q != 100*time.Microsecond {
		t.Errorf("median bucket %v, want 100µs (the 4th of 8)", q)
	}
	if q := l.Quantile(1); q != 2*time.Second {
		t.Errorf("max quantile %v, want the max, 2s", q)
	}
}

func bound(i int) any {
	if i < len(LatenessBounds) {
		return LatenessBounds[i]
	}
	return "+Inf"
}

// TestNodeAdvertLateness drives a master's loop late by known amounts,
// as a saturated machine would wake it, and finds each advert in the
// bucket of its lateness; the adverts stay on their deadlines (no drift:
// each is due one interval after the last deadline, however late the
// last one went out).
func TestNodeAdvertLateness(t *testing.T) {
	cfg := nodeConfig()
	cfg.Announce.Repeat = 1 // no announcement deadlines among the adverts
	h := newHarness(t, cfg)
	h.run()
	h.advance(mdi100) // no master heard: we take over, on time
	h.log.take()
	if s := h.n.Status(); s.State != Master {
		t.Fatalf("state %v, want MASTER", s.State)
	}
	first := h.next // the first Adver_Timer deadline
	lates := []time.Duration{0, 30 * time.Microsecond, 700 * time.Microsecond, 3 * time.Millisecond,
		3 * time.Millisecond, 15 * time.Millisecond, 40 * time.Millisecond}
	for i, late := range lates {
		due := first.Add(time.Duration(i) * 100 * time.Millisecond)
		if !h.next.Equal(due) {
			t.Fatalf("advert %d due at %v, want %v: the deadlines drifted", i, h.next.Sub(t0), due.Sub(t0))
		}
		h.clk.set(due.Add(late))
		h.waitIdle()
		ops, times := h.log.takeTimed()
		if len(ops) != 1 || ops[0] != "send 100 to 224.0.0.18" || !times[0].Equal(due.Add(late)) {
			t.Fatalf("advert %d: %q at %v", i, ops, times)
		}
	}
	l := h.n.Status().AdvertLateness
	// The takeover's advert was due at the Master_Down_Timer and went out
	// on it: one more on time.
	want := map[time.Duration]uint64{50 * time.Microsecond: 3, time.Millisecond: 1, 5 * time.Millisecond: 2,
		20 * time.Millisecond: 1, 50 * time.Millisecond: 1}
	for i, n := range l.Buckets {
		if n != want[LatenessBounds[min(i, len(LatenessBounds)-1)]] && !(i == len(LatenessBounds) && n == 0) {
			t.Errorf("bucket <= %v: %d adverts, want %d", bound(i), n, want[LatenessBounds[min(i, len(LatenessBounds)-1)]])
		}
	}
	if l.Count != 8 || l.Max != 40*time.Millisecond || l.Sum != 61730*time.Microsecond {
		t.Errorf("count %d, max %v, sum %v; want 8, 40ms, 61.73ms", l.Count, l.Max, l.Sum)
	}
	// An advert that answers an event has no deadline and is not counted:
	// a priority 0 advert heard makes the master advertise at once.
	h.recvAdvert(0, peerLow)
	if ops := h.log.take(); len(ops) != 1 {
		t.Fatalf("answer to priority 0: %q", ops)
	}
	if got := h.n.Status().AdvertLateness.Count; got != 8 {
		t.Errorf("%d adverts recorded after an untimed one, want 8", got)
	}
}

// discardConn is a Conn whose writes go nowhere and allocate nothing, for
// measuring the allocations of the Node's advert path.
type discardConn struct {
	src    netip.Addr
	writes int
}

func (c *discardConn) ReadFrom([]byte) (Received, error)    { select {} }
func (c *discardConn) WriteTo(b []byte, _ netip.Addr) error { c.writes++; return nil }
func (c *discardConn) Source() netip.Addr                   { return c.src }
func (c *discardConn) Close() error                         { return nil }

// TestNodeAdvertPathAllocs checks that a master's timed advert (the
// timer's wake-up handled: Timeout, encode, write, status and lateness)
// allocates nothing, for version 3 over IPv4 and IPv6, unicast to two
// peers, and version 2 with a password.
func TestNodeAdvertPathAllocs(t *testing.T) {
	v6 := nodeConfig()
	v6.VIPs = []netip.Prefix{netip.MustParsePrefix("2001:db8::100/64")}
	uni := nodeConfig()
	uni.Unicast = Unicast{Source: nodeSelf, Peers: []netip.Addr{peerLow, peerHigh}}
	v2 := nodeConfig()
	v2.Version, v2.AdvertInterval, v2.AuthPass = 2, time.Second, "secret"
	for name, tc := range map[string]struct {
		cfg InstanceConfig
		src netip.Addr
	}{"v3": {nodeConfig(), nodeSelf}, "v3 IPv6": {v6, netip.MustParseAddr("fe80::10")},
		"v3 unicast": {uni, nodeSelf}, "v2 password": {v2, nodeSelf}} {
		t.Run(name, func(t *testing.T) {
			clk := &fakeClock{now: t0}
			log := &opLog{clock: clk}
			conn := &discardConn{src: tc.src}
			n, err := NewNode(tc.cfg, Deps{Conn: conn, Addrs: newFakeAddrs(log), Announcer: fakeAnnouncer{log}, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.setup(); err != nil {
				t.Fatal(err)
			}
			n.begin()
			clk.set(n.m.Deadline())
			n.onTimer() // Master_Down_Timer: take over
			if n.m.State() != Master {
				t.Fatalf("state %v, want MASTER", n.m.State())
			}
			n.annNext, n.annLate = time.Time{}, time.Time{} // announcements are not the advert path
			before := conn.writes
			allocs := testing.AllocsPerRun(100, func() {
				clk.now = n.m.Deadline().Add(time.Millisecond) // no lock: nothing else runs
				n.onTimer()
				n.publish()
			})
			if allocs != 0 {
				t.Errorf("a timed advert allocates %v times, want 0", allocs)
			}
			if conn.writes == before {
				t.Fatal("no advert written")
			}
			if l := n.Status().AdvertLateness; l.Count < 100 || l.Buckets[4] < 100 {
				t.Errorf("lateness %+v: want every advert in the 1ms bucket", l)
			}
		})
	}
}

// TestLatenessHistogram checks the Prometheus form: cumulative buckets in
// seconds, with the count and sum.
func TestLatenessHistogram(t *testing.T) {
	var l Lateness
	for _, d := range []time.Duration{0, 3 * time.Millisecond, 3 * time.Millisecond, 2 * time.Second} {
		l.record(d)
	}
	var out dto.Metric
	if err := NewMetrics(nil).latenessHistogram(l, []string{"web", "eth0", "7"}).Write(&out); err != nil {
		t.Fatal(err)
	}
	h := out.GetHistogram()
	if h.GetSampleCount() != 4 || h.GetSampleSum() != 2.006 {
		t.Errorf("count %d sum %v, want 4 and 2.006", h.GetSampleCount(), h.GetSampleSum())
	}
	want := map[float64]uint64{0.00005: 1, 0.002: 1, 0.005: 3, 0.1: 3, 1: 3}
	for _, b := range h.GetBucket() {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if len(h.GetBucket()) != len(LatenessBounds) {
		t.Errorf("%d buckets, want %d", len(h.GetBucket()), len(LatenessBounds))
	}
}

// TestNodeLateLoopHandlesAdvertFirst wakes a backup's loop late, past
// its Master_Down_Timer, with the live master's advert already waiting,
// as a saturated machine does: the advert goes first, so the backup stays
// backup. select alone would pick the timer half the time, and the backup
// would take over and step down at once: 20 rounds leave it one chance
// in a million to pass without drainAdverts.
func TestNodeLateLoopHandlesAdvertFirst(t *testing.T) {
	h := newHarness(t, nodeConfig())
	h.run()
	h.recvAdvert(200, peerHigh)
	h.log.take()
	for round := range 20 {
		release := make(chan struct{})
		h.n.events <- func() { <-release } // the loop is busy...
		h.conn.in <- h.packet(Advert{Priority: 200}, peerHigh, MulticastIPv4)
		for i := 0; len(h.n.advertCh) == 0; i++ { // ...while the advert arrives
			if i == 10000 {
				t.Fatal("the reader never queued the advert")
			}
			time.Sleep(time.Millisecond)
		}
		h.clk.set(h.next.Add(time.Millisecond)) // ...and the deadline passes
		close(release)
		h.waitIdle() // after the busy event
		h.waitIdle() // after the advert, or the timer
		if s := h.n.Status(); s.State != Backup || s.Counters.Transitions != 1 {
			t.Fatalf("round %d: %v after %d transitions, want BACKUP after 1 (startup)", round, s.State, s.Counters.Transitions)
		}
	}
	h.expectOps()
}
