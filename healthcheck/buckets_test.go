package healthcheck

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBucketLayout(t *testing.T) {
	for _, tt := range []struct {
		iv   time.Duration
		want int
	}{{time.Millisecond, 1}, {30 * time.Millisecond, 3}, {time.Second, 100}, {time.Minute, 100}} {
		if n := bucketCount(tt.iv); n != tt.want {
			t.Errorf("bucketCount(%v) = %d, want %d", tt.iv, n, tt.want)
		}
	}
	iv := time.Second
	counts := make([]int, bucketCount(iv))
	for i := range 10000 {
		k := key{"web", netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i / 100)}), uint16(10000+i%100))}
		p := spread(k, iv)
		b := bucketOf(iv, p)
		if b != bucketOf(iv, spread(k, iv)) {
			t.Fatalf("%v: bucket not deterministic", k)
		}
		if b.interval != iv || b.index < 0 || b.index >= len(counts) {
			t.Fatalf("%v: phase %v in bucket %+v", k, p, b)
		}
		if off := b.offset(); p < off || p >= off+iv/time.Duration(len(counts)) {
			t.Fatalf("%v: phase %v outside its bucket [%v, +%v)", k, p, off, iv/100)
		}
		counts[b.index]++
	}
	for i, n := range counts { // 100 expected in each
		if n < 60 || n > 140 {
			t.Errorf("bucket %d holds %d of 10,000 checks, want about 100", i, n)
		}
	}
}

// okFactory builds checkers that pass at once, counting their runs.
func okFactory(runs *atomic.Int64) Factory {
	return func(c Spec, real netip.AddrPort) (Checker, netip.AddrPort, error) {
		return CheckerFunc(func(context.Context, netip.AddrPort) error { runs.Add(1); return nil }), real, nil
	}
}

func manyTargets(n int, c Spec) []Target {
	ts := make([]Target, n)
	for i := range ts {
		ts[i] = Target{"svc", netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i / 250)}), uint16(1+i%250)), c}
	}
	return ts
}

func TestRunnerBatchesIntoBoundedJobs(t *testing.T) {
	var runs atomic.Int64
	r, err := NewRunner(nil, nil, WithFactory(okFactory(&runs)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	second := Spec{Type: "tcp", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}
	half := second
	half.Interval = 500 * time.Millisecond
	set := func(ts []Target) {
		t.Helper()
		if err := r.Set(ts); err != nil {
			t.Fatal(err)
		}
	}
	set(append(manyTargets(1000, second), Target{"other", netip.MustParseAddrPort("192.0.2.250:1"), half}))
	if n := len(r.sched.Jobs()); n > maxBuckets+1 || n < maxBuckets/2 {
		t.Errorf("%d gocron jobs for 1,000 checks of one interval and 1 of another, want at most %d", n, maxBuckets+1)
	}
	ids := map[string]bool{}
	for _, j := range r.sched.Jobs() {
		ids[j.ID().String()] = true
	}
	set(manyTargets(1000, second)) // the same minus one: the jobs stay
	if n := len(r.sched.Jobs()); n != len(ids)-1 {
		t.Errorf("%d jobs after removing the only check of an interval, want %d", n, len(ids)-1)
	}
	for _, j := range r.sched.Jobs() {
		if !ids[j.ID().String()] {
			t.Errorf("job %q was replaced: an unchanged bucket keeps its job and phase", j.Name())
		}
	}
	waitFor(t, 3*time.Second, "a run of every check", func() bool { return runs.Load() >= 1000 })
	set(nil)
	if n := len(r.sched.Jobs()); n != 0 {
		t.Errorf("%d jobs left without checks", n)
	}
}

func TestRunnerSpreadsFirstRuns(t *testing.T) {
	var runs atomic.Int64
	var mu sync.Mutex
	first := map[netip.AddrPort]time.Time{}
	r, err := NewRunner(nil, nil, WithFactory(okFactory(&runs)), WithResults(func(res Result) {
		mu.Lock()
		if _, ok := first[res.Real]; !ok {
			first[res.Real] = res.Due
		}
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	iv := 500 * time.Millisecond
	start := time.Now()
	if err := r.Set(manyTargets(500, Spec{Type: "tcp", Interval: iv, Timeout: iv, Rise: 1, Fall: 1})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "a run of every check", func() bool { mu.Lock(); defer mu.Unlock(); return len(first) == 500 })
	slots := map[int]int{} // tenths of the interval
	for real, due := range first {
		off := due.Sub(start)
		k := key{"svc", real}
		if want := bucketOf(iv, spread(k, iv)).offset(); off < want-5*time.Millisecond || off > want+50*time.Millisecond {
			t.Errorf("%v: first run due %v after Set, want its bucket's offset %v", real, off, want)
		}
		slots[int(off*10/iv)]++
	}
	for s := range 10 {
		if slots[s] < 20 {
			t.Errorf("%d of 500 first runs in tenth %d of the interval: %v", slots[s], s, slots)
		}
	}
}

func TestRunnerSkipsOverlap(t *testing.T) {
	var inside, most, starts atomic.Int32
	slow := func(Spec, netip.AddrPort) (Checker, netip.AddrPort, error) {
		return CheckerFunc(func(context.Context, netip.AddrPort) error {
			starts.Add(1)
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(130 * time.Millisecond) // ignores ctx, against the contract: 3 intervals
			inside.Add(-1)
			return nil
		}), netip.AddrPort{}, nil
	}
	var skipped atomic.Int32
	r, err := NewRunner(nil, nil, WithFactory(slow), WithResults(func(res Result) {
		if res.Skipped {
			skipped.Add(1)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	c := Spec{Type: "tcp", Interval: 40 * time.Millisecond, Timeout: 40 * time.Millisecond, Rise: 1, Fall: 1}
	if err := r.Set([]Target{{"svc", netip.MustParseAddrPort("192.0.2.1:80"), c}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "3 runs", func() bool { return starts.Load() >= 3 })
	if m := most.Load(); m != 1 {
		t.Errorf("%d runs of one check at once, want 1", m)
	}
	if skipped.Load() < 3 {
		t.Errorf("%d runs skipped, want about 2 per run", skipped.Load())
	}
}

func TestRunnerConnectEngine(t *testing.T) {
	srv := newFlipListener(t)
	var results atomic.Int32
	events := make(chan Event, 10)
	r, err := NewRunner(nil, func(ev Event) { events <- ev }, WithResults(func(Result) { results.Add(1) }))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	if r.engine == nil {
		t.Skip("no connect engine on this system")
	}
	c := tcpCheck(2, 2)
	sendExpect := c
	sendExpect.Send = "x"
	other := closedPort(t, "tcp", "127.0.0.1")
	if err := r.Set([]Target{{"web", srv.addr, c}, {"web", other, sendExpect}}); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	onEngine, onPool := r.jobs[key{"web", srv.addr}].spec != nil, r.jobs[key{"web", other}].spec != nil
	r.mu.Unlock()
	if !onEngine || onPool {
		t.Fatalf("connect-only check on the engine: %v; send/expect check on the engine: %v", onEngine, onPool)
	}
	waitFor(t, 2*time.Second, "results", func() bool { return results.Load() >= 4 })
	if !r.Up("web", srv.addr) {
		t.Fatal("down while the port is open")
	}
	srv.close()
	for ev := nextEvent(t, events, 3*time.Second); ev.Real != srv.addr; ev = nextEvent(t, events, 3*time.Second) {
	}
	if r.Up("web", srv.addr) {
		t.Fatal("up after the port closed")
	}
	checks := func() uint64 {
		for _, st := range r.Snapshot() {
			if st.Real == srv.addr {
				if st.LastReason != ReasonRefused || st.LastDetail != "connect "+srv.addr.String()+": refused" {
					t.Errorf("snapshot %+v", st)
				}
				return st.Checks
			}
		}
		t.Fatal("not in the snapshot")
		return 0
	}
	before := checks()
	if err := r.Set([]Target{{"web", srv.addr, c}, {"web", other, sendExpect}}); err != nil {
		t.Fatal(err)
	}
	if r.Up("web", srv.addr) || checks() < before {
		t.Fatal("Set with the same targets reset the check's state")
	}
	srv.reopen()
	for ev := nextEvent(t, events, 3*time.Second); ev.Real != srv.addr || !ev.Up; ev = nextEvent(t, events, 3*time.Second) {
	}
}
