package ipvs

import (
	"context"
	"net/netip"
	"path/filepath"
	"reflect"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/config"
)

func quiet() *logrus.Entry {
	l := logrus.New()
	l.SetLevel(logrus.PanicLevel)
	return logrus.NewEntry(l)
}

func TestRestartAdoptsAndRemembersOwnership(t *testing.T) {
	f := NewMemory()
	owned := filepath.Join(t.TempDir(), "owned.json")
	foreign := ServiceKey{Protocol: syscall.IPPROTO_UDP, Addr: netip.MustParseAddrPort("203.0.113.53:53")}
	_ = f.Apply(Op{Kind: AddService, Key: foreign, Service: Service{Scheduler: "rr"}})

	first := New(f, Options{OwnedPath: owned, Log: quiet()})
	if _, _, err := first.Reconcile([]config.Service{web, v6}, AllUp); err != nil {
		t.Fatal(err)
	}
	// A restart with the same files makes no operation at all.
	f.ResetCalls()
	second := New(f, Options{OwnedPath: owned, Log: quiet()})
	ops, _, err := second.Reconcile([]config.Service{web, v6}, AllUp)
	if err != nil || len(ops) != 0 || len(f.Calls()) != 0 {
		t.Fatalf("restart: ops %v calls %v err %v, want none", ops, f.Calls(), err)
	}
	// The v6 file was removed while lvsd was down: still recognised as
	// ours and deleted; the foreign service stays.
	third := New(f, Options{OwnedPath: owned, Log: quiet()})
	ops, after, err := third.Reconcile([]config.Service{web}, AllUp)
	if err != nil || len(ops) != 1 || ops[0].Kind != DelService || ops[0].Key != KeyOf(v6) {
		t.Fatalf("after removal: ops %v err %v", ops, err)
	}
	if _, ok := after[foreign]; !ok || len(after) != 2 {
		t.Errorf("table: %v", after)
	}
}

func TestAdoptionWithoutOwnershipFileLeavesUnknownServices(t *testing.T) {
	f := NewMemory()
	converge(t, f, Want([]config.Service{web, v6}, AllUp))
	// No owned file (first start of lvsd over a table someone made): v6 is
	// not in the files and not known to be ours, so it is left alone.
	d := New(f, Options{OwnedPath: filepath.Join(t.TempDir(), "owned.json"), Log: quiet()})
	ops, after, err := d.Reconcile([]config.Service{web}, AllUp)
	if err != nil || len(ops) != 0 || len(after) != 2 {
		t.Fatalf("ops %v err %v table %v", ops, err, after)
	}
}

func TestRunRepairsDriftAndClearsOnStop(t *testing.T) {
	lf := NewMemory()
	clock := clockwork.NewFakeClock()
	const interval = 30 * time.Second
	d := New(lf, Options{Interval: interval, OwnedPath: filepath.Join(t.TempDir(), "o.json"), ClearOnStop: true, Log: quiet(), Clock: clock})
	d.Update([]config.Service{web}, AllUp)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	ready(t, d)
	if tb, _ := lf.Table(); len(tb) != 1 {
		t.Fatalf("after the first reconcile the table is %v, want web", tb)
	}
	// ipvsadm -C behind our back: the periodic reconcile puts it back.
	lf.Edit(func(t Table) { clear(t) })
	if err := clock.BlockUntilContext(ctx, 1); err != nil { // Run's ticker
		t.Fatal(err)
	}
	clock.Advance(interval)
	waitReconciled(t, d, "drift repair", func() bool { tb, _ := lf.Table(); return len(tb[KeyOf(web)].Dests) == 2 })
	// An update applies at once, with the clock standing still.
	d.Update([]config.Service{web}, func(string, netip.AddrPort) RealState { return RealState{} })
	waitReconciled(t, d, "sorry server", func() bool { tb, _ := lf.Table(); _, ok := tb[KeyOf(web)].Dests[web.Sorry]; return ok })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if tb, _ := lf.Table(); len(tb) != 0 {
		t.Errorf("on_stop clear left %v", tb)
	}
	if r := d.Last(); r.Err != nil {
		t.Errorf("last result: %+v", r)
	}
}

// guard bounds a wait on the code under test: it fails the test instead
// of hanging it, and says nothing about how long anything should take.
const guard = 5 * time.Second

// ready waits for Run's first reconcile.
func ready(t *testing.T, d *Reconciler) {
	t.Helper()
	select {
	case <-d.Ready():
	case <-time.After(guard):
		t.Fatal("no first reconcile")
	}
}

// waitReconciled checks cond after each reconcile of d until it holds.
func waitReconciled(t *testing.T, d *Reconciler, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(guard)
	for {
		next := d.Reconciled() // before cond: a reconcile ending meanwhile closes it
		if cond() {
			return
		}
		select {
		case <-next:
		case <-timeout:
			t.Fatalf("no reconcile brought %s", what)
		}
	}
}

// readCounting counts full reads of the kernel table.
type readCounting struct {
	*Memory
	reads int
	fail  bool
}

func (r *readCounting) Table() (Table, error) { r.reads++; return r.Memory.Table() }

func (r *readCounting) Apply(op Op) error {
	if r.fail {
		return syscall.EIO
	}
	return r.Memory.Apply(op)
}

func TestChangesUseTheCachedTable(t *testing.T) {
	k := &readCounting{Memory: NewMemory()}
	d := New(k, Options{Log: quiet()})
	if _, _, err := d.Reconcile([]config.Service{web, v6}, AllUp); err != nil {
		t.Fatal(err)
	}
	if k.reads != 1 {
		t.Fatalf("cold start read the kernel %d times, want 1", k.reads)
	}
	// A health change costs its one operation and no read.
	down := func(_ string, a netip.AddrPort) RealState { return RealState{Up: a != web.Reals[0].Addr} }
	k.ResetCalls()
	ops, after, err := d.Reconcile([]config.Service{web, v6}, down)
	if err != nil || len(ops) != 1 || len(k.Calls()) != 1 || k.reads != 1 {
		t.Fatalf("health change: ops %v, calls %d, reads %d, err %v", ops, len(k.Calls()), k.reads, err)
	}
	if kern, _ := k.Memory.Table(); !reflect.DeepEqual(after, kern) {
		t.Errorf("cache %v differs from the kernel %v", after, kern)
	}
	// A failed operation means the kernel is not what lvsd thinks of its
	// service: lvsd reads that service again at once (not the whole
	// table), and the next reconcile repairs from there.
	k.fail = true
	reads := k.reads
	_, services := k.Reads()
	_, after, err = d.Reconcile([]config.Service{web, v6}, AllUp)
	if err == nil {
		t.Fatal("the failure was not reported")
	}
	if _, s := k.Reads(); k.reads != reads || s != services+1 {
		t.Fatalf("a failed reconcile read the whole table %d times and services %d times, want 0 and 1", k.reads-reads, s-services)
	}
	if kern, _ := k.Memory.Table(); !reflect.DeepEqual(after, kern) {
		t.Errorf("after a failure the cache %v differs from the kernel %v", after, kern)
	}
	k.fail = false
	if _, _, err := d.Reconcile([]config.Service{web, v6}, AllUp); err != nil {
		t.Fatalf("after a failure: %v", err)
	}
	if kern, _ := k.Memory.Table(); !reflect.DeepEqual(kern, Want([]config.Service{web, v6}, AllUp)) {
		t.Errorf("not repaired: %v", kern)
	}
}

func TestChangedReconcilesOnlyThatService(t *testing.T) {
	k := &readCounting{Memory: NewMemory()}
	clock := clockwork.NewFakeClock()
	d := New(k, Options{Interval: time.Hour, Log: quiet(), Clock: clock})
	var mu sync.Mutex
	webDown := false
	state := func(s string, a netip.AddrPort) RealState {
		mu.Lock()
		defer mu.Unlock()
		return RealState{Up: !(webDown && s == web.Name && a == web.Reals[0].Addr)}
	}
	d.Update([]config.Service{web, v6}, state)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	ready(t, d)
	if n := d.Last().Services; n != 2 {
		t.Fatalf("cold apply: %d services, want 2", n)
	}
	// Drift in v6 that a partial reconcile of web must not look at.
	k.Edit(func(t Table) { delete(t[KeyOf(v6)].Dests, v6.Reals[0].Addr) })
	reads := k.reads
	mu.Lock()
	webDown = true
	mu.Unlock()
	// The decision waits 5 ms for Run's goroutine, busy here: its latency
	// counts from the decision, not from the reconcile.
	const wait = 5 * time.Millisecond
	if err := d.onLoop(ctx, func() error { d.Changed(web.Name); clock.Advance(wait); return nil }); err != nil {
		t.Fatal(err)
	}
	waitReconciled(t, d, "web's decision", func() bool { r := d.Last(); return len(r.Ops) == 1 })
	if r := d.Last(); r.Ops[0].Kind != DelDest || r.Ops[0].Key != KeyOf(web) || r.Latency != wait || k.reads != reads {
		t.Errorf("partial reconcile: %+v, kernel reads %d -> %d", r, reads, k.reads)
	}
	if tb, _ := k.Memory.Table(); len(tb[KeyOf(v6)].Dests) != 0 {
		t.Error("the partial reconcile touched another service")
	}
}

// TestAppliedThroughFollowsTheKernel: AppliedThrough is zero before the
// first reconcile, then the clock's now while nothing waits, and while a
// change waits for Run it stays at the start of the last reconcile, so
// that a decision made after it never passes for applied (the
// preemption gate, director/preempt.go).
func TestAppliedThroughFollowsTheKernel(t *testing.T) {
	clock := clockwork.NewFakeClock()
	d := New(NewMemory(), Options{Interval: time.Hour, Log: quiet(), Clock: clock})
	d.Update([]config.Service{web, v6}, AllUp)
	if got := d.AppliedThrough(); !got.IsZero() {
		t.Fatalf("before the first reconcile: %v, want zero", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	ready(t, d)
	first := clock.Now()
	if got := d.AppliedThrough(); !got.Equal(first) {
		t.Fatalf("settled: %v, want now %v", got, first)
	}
	var waiting time.Time
	if err := d.onLoop(ctx, func() error { // Run's goroutine: no reconcile until it returns
		clock.Advance(5 * time.Millisecond)
		d.Changed(web.Name)
		clock.Advance(5 * time.Millisecond)
		waiting = d.AppliedThrough()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !waiting.Equal(first) {
		t.Errorf("with a change waiting: %v, want the last reconcile's start %v", waiting, first)
	}
	waitReconciled(t, d, "the change", func() bool { return d.AppliedThrough().Equal(clock.Now()) })
}
