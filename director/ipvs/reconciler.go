package ipvs

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/config"
)

// Options configure a Reconciler.
type Options struct {
	Interval    time.Duration // periodic reconcile, repairing drift
	OwnedPath   string        // where the set of services lvsd made is kept
	ClearOnStop bool          // delete lvsd's services when Run ends
	Log         *logrus.Entry
	// Clock times the periodic reconcile and the latency of updates; nil
	// means the real clock. Tests pass a fake one.
	Clock clockwork.Clock
	// Metrics, if set, counts reconciles (see metrics.go).
	Metrics *Metrics
}

// Reconciler keeps the kernel's IPVS table as the services and health want.
// Run owns the kernel handle; other goroutines call Update, Last and Plan.
type Reconciler struct {
	k     IPVS
	opts  Options
	owned ownedFile

	mu      sync.Mutex
	want    []config.Service
	byName  map[string]int // index into want
	state   StateFunc
	pending time.Time           // when the oldest update not yet applied arrived
	full    bool                // a full reconcile is due (Update)
	dirty   map[string]struct{} // services whose realservers' state changed (Changed)
	last    Result
	// applying is true while a reconcile runs; through is when the last
	// one to end took its work (every Update and Changed before it was
	// in it). AppliedThrough reads them.
	applying bool
	through  time.Time
	ready    chan struct{} // closed when the first reconcile ends
	next     chan struct{} // closed when the next reconcile ends, then replaced
	kick     chan struct{}
	calls    chan func() // run on Run's goroutine, which owns the handle

	// have caches the kernel's table as of the last reconcile, so that a
	// change (a reload, a health event) costs only its own operations:
	// reading 10,000 services back takes seconds. A failed operation
	// invalidates it, and the periodic reconcile always reads the kernel.
	// nil: not known. Owned by Run's goroutine.
	have cached
	// ownedSet mirrors the owned-services file, read once at the first
	// reconcile. Owned by Run's goroutine.
	ownedSet map[ServiceKey]bool
}

// Result describes the last reconcile.
type Result struct {
	At time.Time
	// Ops are the operations made, the first lastOps of them only after
	// a full reconcile; Made counts them all.
	Ops      []Op
	Made     OpCounts
	Err      error
	Services int // in the kernel after it
	// Latency is how long the oldest update it applied waited, from the
	// Update call (a health decision, a reload) until the kernel had the
	// operations; zero for a periodic run with nothing pending.
	Latency time.Duration
}

// OpCounts counts operations by kind.
type OpCounts [DelService + 1]int

func (c *OpCounts) add(ops []Op) {
	for _, op := range ops {
		c[op.Kind]++
	}
}

// Total is how many operations c counts.
func (c OpCounts) Total() int {
	n := 0
	for _, k := range c {
		n += k
	}
	return n
}

// lastOps bounds the operations a full reconcile's Result lists: a cold
// apply of 10,000 services of 10 makes 110,000 (17 MB), which the last
// Result would otherwise hold until the next reconcile.
const lastOps = 1000

// New returns a Reconciler over the kernel k.
func New(k IPVS, opts Options) *Reconciler {
	if opts.Log == nil {
		opts.Log = logrus.NewEntry(logrus.New())
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	return &Reconciler{
		k: k, opts: opts, owned: ownedFile{opts.OwnedPath}, state: AllUp,
		ready: make(chan struct{}), next: make(chan struct{}),
		kick: make(chan struct{}, 1), calls: make(chan func()),
	}
}

// Update sets the wanted services and the realservers' state; Run applies
// them at once. It never blocks: the latest update wins.
func (d *Reconciler) Update(services []config.Service, state StateFunc) {
	d.mu.Lock()
	d.want, d.state, d.full = services, state, true
	d.byName = make(map[string]int, len(services))
	for i, s := range services {
		d.byName[s.Name] = i
	}
	if d.pending.IsZero() {
		d.pending = d.opts.Clock.Now()
	}
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Changed says that the state of some realservers of the named services
// changed (a health decision, a drain): Run recomputes and diffs those
// services only, so a decision costs its own operations whatever the size
// of the table. It never blocks.
func (d *Reconciler) Changed(services ...string) {
	d.mu.Lock()
	if d.dirty == nil {
		d.dirty = map[string]struct{}{}
	}
	for _, s := range services {
		d.dirty[s] = struct{}{}
	}
	if d.pending.IsZero() {
		d.pending = d.opts.Clock.Now()
	}
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Ready returns a channel that is closed once Run's first reconcile has
// ended, whether or not it succeeded: the table is then as lvsd wants it,
// or the error is in Last.
func (d *Reconciler) Ready() <-chan struct{} { return d.ready }

// Reconciled returns a channel that is closed when the next reconcile to
// end has ended (one under way when it is called counts). To wait for a
// change to reach the kernel, check Last or the table after each one.
func (d *Reconciler) Reconciled() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.next
}

// AppliedThrough returns a time before which every Update and Changed
// has been through a reconcile that ended: now when none waits and none
// is under way, the start of the last reconcile that ended otherwise,
// zero before the first. A decision made at or before it is in the
// kernel (or failed: see Last). The preemption gate reads it: a health
// verdict is not yet an IPVS destination (issue 14's VM soak: a director
// took the VIP 70 ms before its kernel had the realservers its checks
// had just found up, and its IPVS refused the clients).
func (d *Reconciler) AppliedThrough() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.applying && d.pending.IsZero() && !d.full && len(d.dirty) == 0 && !d.through.IsZero() {
		return d.opts.Clock.Now()
	}
	return d.through
}

// Last returns the outcome of the last reconcile, with at most lastOps
// of its operations.
func (d *Reconciler) Last() Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// Run reconciles at once, after every Update and every Interval, until
// ctx is done. Errors are logged and retried, never fatal: the kernel
// keeps forwarding whatever it has.
func (d *Reconciler) Run(ctx context.Context) error {
	tick := d.opts.Clock.NewTicker(d.opts.Interval)
	defer tick.Stop()
	d.reconcile(false)
	for {
		select {
		case <-ctx.Done():
			if d.opts.ClearOnStop {
				return d.clear()
			}
			return nil
		case <-d.kick:
			d.reconcile(false)
		case <-tick.Chan():
			d.reconcile(true)
		case fn := <-d.calls:
			fn()
		}
	}
}

// reconcile diffs and applies once. periodic marks the timer's runs: they
// read the kernel afresh, and any change found then was made behind
// lvsd's back, and is logged as drift.
func (d *Reconciler) reconcile(periodic bool) Result {
	d.mu.Lock()
	took := d.opts.Clock.Now() // under mu: every Update and Changed before it is taken below
	services, state, pending, full, dirty := d.want, d.state, d.pending, d.full, d.dirty
	if !full && !periodic && d.have != nil {
		services = subset(services, d.byName, dirty)
	}
	d.pending, d.full, d.dirty = time.Time{}, false, nil
	d.applying = true
	d.mu.Unlock()
	if periodic {
		d.have = nil
	}
	res := Result{At: d.opts.Clock.Now()}
	if full || periodic || d.have == nil {
		res.Ops, res.Made, res.Services, res.Err = d.reconcileAll(services, state, lastOps)
	} else {
		res.Ops, res.Services, res.Err = d.reconcilePart(services, state)
		res.Made.add(res.Ops)
	}
	if !pending.IsZero() {
		res.Latency = d.opts.Clock.Since(pending)
	}
	d.opts.Metrics.observe(res, periodic, !pending.IsZero(), d.opts.Clock.Since(res.At))
	if res.Made.Total() > 0 {
		entry := d.opts.Log.WithField("ops", res.Made.Total())
		if entry.Logger.IsLevelEnabled(logrus.DebugLevel) {
			for _, op := range res.Ops {
				entry.Debug(op.String())
			}
		}
		if periodic {
			entry.Warnf("ipvs drift repaired: %v", res.Ops)
		} else {
			entry.WithField("latency", res.Latency).Info("ipvs table updated")
		}
	}
	if res.Err != nil {
		d.opts.Log.WithError(res.Err).Error("ipvs reconcile failed; retrying at the next change or interval")
	}
	d.mu.Lock()
	d.last = res
	d.applying, d.through = false, took
	close(d.next)
	d.next = make(chan struct{})
	select {
	case <-d.ready:
	default:
		close(d.ready)
	}
	d.mu.Unlock()
	return res
}

// Reconcile makes the kernel hold what services and state want, and
// returns the operations made and the table after them (a copy of lvsd's
// own). It diffs against the cached table when it has one, and reads the
// kernel otherwise. It must be called from the goroutine that owns the
// kernel handle.
func (d *Reconciler) Reconcile(services []config.Service, state StateFunc) ([]Op, Table, error) {
	ops, _, _, err := d.reconcileAll(services, state, -1)
	if d.have == nil {
		return ops, nil, err
	}
	return ops, d.have.table(), err
}

// chunkServices is how many services a full reconcile wants, diffs and
// applies at a time: a cold apply of 10,000 services of 10 would
// otherwise hold their whole wanted table (11 MB) and 110,000 operations
// (17 MB) at once, at the daemon's start, its peak.
const chunkServices = 500

// reconcileAll is Reconcile, a chunk of services at a time, then the
// deletion of the services lvsd made and no longer wants. It returns the
// first keep of the operations made (keep < 0: all), how many it made,
// and how many services the kernel holds after it, rather than a copy of
// them: Run's loop needs no more.
func (d *Reconciler) reconcileAll(services []config.Service, state StateFunc, keep int) (ops []Op, made OpCounts, n int, err error) {
	owned := d.ownedKeys()
	if err := d.readHave(); err != nil {
		return nil, made, 0, err
	}
	wanted := make(map[ServiceKey]bool, len(services))
	var errs []error
	apply := func(batch []Op) {
		errs = append(errs, d.applyOps(batch))
		made.add(batch)
		if keep < 0 {
			ops = append(ops, batch...)
		} else if len(ops) < keep {
			ops = append(ops, batch[:min(len(batch), keep-len(ops))]...)
		}
	}
	for chunk := range slices.Chunk(services, chunkServices) {
		if err := d.readHave(); err != nil { // a failure dropped the cache
			return ops, made, 0, errors.Join(append(errs, err)...)
		}
		want := Want(chunk, state)
		for k := range want {
			wanted[k] = true
		}
		// The cache's other services are not in the subset: no deletion.
		apply(Diff(want, d.have.subset(want), func(ServiceKey) bool { return false }))
	}
	if err := d.readHave(); err != nil {
		return ops, made, 0, errors.Join(append(errs, err)...)
	}
	var gone []Op
	for k := range d.have {
		if !wanted[k] && owned[k] {
			gone = append(gone, Op{Kind: DelService, Key: k}) // the kernel drops its dests
		}
	}
	sortOps(gone)
	apply(gone)
	// Ours from now on: everything wanted, and nothing else. The file is
	// written only when that set changes (it lists every service).
	if !maps.Equal(owned, wanted) {
		d.ownedSet = wanted
		if err := d.owned.save(wanted); err != nil {
			errs = append(errs, err)
		}
	}
	if err := d.readHave(); err != nil {
		errs = append(errs, err)
	}
	return ops, made, len(d.have), errors.Join(errs...)
}

// readHave reads the whole kernel table into the cache, unless the cache
// is valid.
func (d *Reconciler) readHave() error {
	if d.have != nil {
		return nil
	}
	t, err := d.k.Table()
	if err != nil {
		return err
	}
	d.have = cacheOf(t)
	return nil
}

// subset picks the named services out of all.
func subset(all []config.Service, byName map[string]int, names map[string]struct{}) []config.Service {
	out := make([]config.Service, 0, len(names))
	for n := range names {
		if i, ok := byName[n]; ok {
			out = append(out, all[i])
		}
	}
	return out
}

// reconcilePart brings the kernel to what services want, for these
// services only, against the cached table (which must be valid), and
// returns how many services the kernel holds after it.
func (d *Reconciler) reconcilePart(services []config.Service, state StateFunc) ([]Op, int, error) {
	want := Want(services, state)
	ops := Diff(want, d.have.subset(want), func(ServiceKey) bool { return false })
	err := d.applyOps(ops)
	// The failed services could not be read back: read it all.
	if rerr := d.readHave(); rerr != nil {
		return ops, 0, errors.Join(err, rerr)
	}
	return ops, len(d.have), err
}

// ownedKeys returns the services lvsd made, reading the file once.
func (d *Reconciler) ownedKeys() map[ServiceKey]bool {
	if d.ownedSet == nil {
		owned, err := d.owned.load()
		if err != nil {
			d.opts.Log.WithError(err).Warn("owned-services file unreadable; lvsd deletes none of the services it cannot name")
		}
		d.ownedSet = owned
	}
	return d.ownedSet
}

// Table returns a copy of the kernel's table as lvsd last knew it (read
// afresh when unknown), for status. It runs on Run's goroutine.
func (d *Reconciler) Table(ctx context.Context) (Table, error) {
	var t Table
	err := d.onLoop(ctx, func() error {
		if err := d.readHave(); err != nil {
			return err
		}
		t = d.have.table()
		return nil
	})
	return t, err
}

// onLoop runs fn on Run's goroutine and waits for it.
func (d *Reconciler) onLoop(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	select {
	case d.calls <- func() { done <- fn() }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Plan returns the operations a reconcile to services and state would
// make, without making them (`lvsd diff`). It reads the kernel afresh, on
// Run's goroutine, which owns the kernel handle, so Run must be running.
func (d *Reconciler) Plan(ctx context.Context, services []config.Service, state StateFunc) ([]Op, error) {
	var ops []Op
	err := d.onLoop(ctx, func() error {
		owned := d.ownedKeys()
		have, err := d.k.Table()
		if err != nil {
			return err
		}
		ops = Diff(Want(services, state), have, func(k ServiceKey) bool { return owned[k] })
		return nil
	})
	return ops, err
}

// clear deletes the services lvsd owns (director.on_stop: clear).
func (d *Reconciler) clear() error {
	ops, _, _, err := d.reconcileAll(nil, AllUp, -1)
	d.opts.Log.WithField("ops", len(ops)).Info("ipvs services removed on stop")
	return err
}
