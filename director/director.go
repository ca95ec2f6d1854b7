package director

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/config"
)

// Options configure a Director.
type Options struct {
	Interval    time.Duration // periodic reconcile, repairing drift
	OwnedPath   string        // where the set of services lvsd made is kept
	ClearOnStop bool          // delete lvsd's services when Run ends
	Log         *logrus.Entry
}

// Director keeps the kernel's IPVS table as the services and health want.
// Run owns the kernel handle; other goroutines call Update, Last and Plan.
type Director struct {
	k     IPVS
	opts  Options
	owned ownedFile

	mu    sync.Mutex
	want  []config.Service
	state StateFunc
	last  Result
	kick  chan struct{}
	calls chan func() // run on Run's goroutine, which owns the handle
}

// Result describes the last reconcile.
type Result struct {
	At    time.Time
	Ops   []Op
	Err   error
	Table Table // the kernel's table after it
}

// New returns a Director over the kernel k.
func New(k IPVS, opts Options) *Director {
	if opts.Log == nil {
		opts.Log = logrus.NewEntry(logrus.New())
	}
	return &Director{
		k: k, opts: opts, owned: ownedFile{opts.OwnedPath}, state: AllUp,
		kick: make(chan struct{}, 1), calls: make(chan func()),
	}
}

// Update sets the wanted services and the realservers' state; Run applies
// them at once. It never blocks: the latest update wins.
func (d *Director) Update(services []config.Service, state StateFunc) {
	d.mu.Lock()
	d.want, d.state = services, state
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Last returns the outcome of the last reconcile.
func (d *Director) Last() Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// Run reconciles at once, after every Update and every Interval, until
// ctx is done. Errors are logged and retried, never fatal: the kernel
// keeps forwarding whatever it has.
func (d *Director) Run(ctx context.Context) error {
	tick := time.NewTicker(d.opts.Interval)
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
		case <-tick.C:
			d.reconcile(true)
		case fn := <-d.calls:
			fn()
		}
	}
}

// reconcile diffs and applies once. periodic marks the timer's runs: any
// change found then was made behind lvsd's back, and is logged as drift.
func (d *Director) reconcile(periodic bool) Result {
	d.mu.Lock()
	services, state := d.want, d.state
	d.mu.Unlock()
	res := Result{At: time.Now()}
	res.Ops, res.Table, res.Err = d.Reconcile(services, state)
	if len(res.Ops) > 0 {
		entry := d.opts.Log.WithField("ops", len(res.Ops))
		for _, op := range res.Ops {
			entry.Debug(op.String())
		}
		if periodic {
			entry.Warnf("ipvs drift repaired: %v", res.Ops)
		} else {
			entry.Info("ipvs table updated")
		}
	}
	if res.Err != nil {
		d.opts.Log.WithError(res.Err).Error("ipvs reconcile failed; retrying at the next change or interval")
	}
	d.mu.Lock()
	d.last = res
	d.mu.Unlock()
	return res
}

// Reconcile makes the kernel hold what services and state want, and
// returns the operations made and the table after them. It must be called
// from the goroutine that owns the kernel handle.
func (d *Director) Reconcile(services []config.Service, state StateFunc) ([]Op, Table, error) {
	want := Want(services, state)
	owned, err := d.owned.load()
	if err != nil {
		d.opts.Log.WithError(err).Warn("owned-services file unreadable; deleting nothing this round")
	}
	have, err := d.k.Table()
	if err != nil {
		return nil, nil, err
	}
	ops := Diff(want, have, func(k ServiceKey) bool { return owned[k] })
	_, applyErr := Apply(d.k, ops)
	// Ours from now on: everything wanted. Deleted ones leave the set.
	for k := range owned {
		if _, ok := want[k]; !ok {
			delete(owned, k)
		}
	}
	for k := range want {
		owned[k] = true
	}
	if err := d.owned.save(owned); err != nil {
		applyErr = errors.Join(applyErr, err)
	}
	after, err := d.k.Table()
	if err != nil && applyErr == nil {
		applyErr = err
	}
	return ops, after, applyErr
}

// Plan returns the operations a reconcile to services and state would
// make, without making them (`lvsd diff`). It runs on Run's goroutine,
// which owns the kernel handle, so Run must be running.
func (d *Director) Plan(ctx context.Context, services []config.Service, state StateFunc) ([]Op, error) {
	type result struct {
		ops []Op
		err error
	}
	done := make(chan result, 1)
	fn := func() {
		owned, _ := d.owned.load()
		have, err := d.k.Table()
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{ops: Diff(Want(services, state), have, func(k ServiceKey) bool { return owned[k] })}
	}
	select {
	case d.calls <- fn:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-done:
		return r.ops, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// clear deletes the services lvsd owns (director.on_stop: clear).
func (d *Director) clear() error {
	ops, _, err := d.Reconcile(nil, AllUp)
	d.opts.Log.WithField("ops", len(ops)).Info("ipvs services removed on stop")
	return err
}
