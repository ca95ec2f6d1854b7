package healthcheck

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// key names one check: a realserver of a service.
type key struct {
	service string
	real    netip.AddrPort
}

// entry is one check as the Runner runs it: a Runner of 100,000
// realservers holds 100,000 of them, so it is a small fixed struct. What
// follows from the check alone (its Spec, shared by the targets of a
// service) is read through check rather than copied; a check run on the
// pool keeps its Checker and context apart, in onPool, and connect-only
// TCP checks (the bulk of a large farm) need neither. The fields a run
// touches come first, to share a cache line or two: a Runner visits
// thousands of entries a second, each once.
type entry struct {
	key
	running atomic.Bool   // a run started and its result is not recorded yet
	isRetry atomic.Bool   // the run under way is a retry (retry.go); owned by the run
	gone    atomic.Bool   // removed or replaced by Set (set under Runner.mu): no more runs or results
	connect bool          // a connect-only TCP check, made by the connect engine
	static  bool          // no runs: the state is fixed (none, on, off, or broken)
	broken  bool          // the checker could not be built; rebuilt at every Set
	row     int32         // index in Runner.rows and Runner.health; guarded by Runner.mu
	due     time.Duration // when the current run's batch was due, after Runner.base; owned by the run
	check   *Spec         // never modified: the Runner keeps the Spec given to Set
	// moved is what the check probes when it is not the realserver
	// (Spec.Address or Port); nil, for most checks, when it is.
	moved   *netip.AddrPort
	pool    *poolCheck    // the Checker run on the pool; nil for static and connect entries
	phase   time.Duration // offset of its runs in the interval
	retry   *pendingRetry // nil: none pending; guarded by Runner.mu
	tracker Tracker       // guarded by Runner.mu
}

// target is what the check probes.
func (e *entry) target() netip.AddrPort {
	if e.moved != nil {
		return *e.moved
	}
	return e.real
}

// bucket is the batch the entry's runs start in.
func (e *entry) bucket() bucketKey { return bucketOf(e.check.Interval, e.phase) }

// poolCheck is what a check run on the worker pool needs beyond its
// entry: its Checker, and a context that ends its runs when the entry
// goes.
type poolCheck struct {
	checker Checker
	ctx     context.Context
	cancel  context.CancelFunc
}

// scheduled reports whether the entry has runs to schedule.
func (e *entry) scheduled() bool { return !e.static && e.check.Interval > 0 }

// timeout bounds one run: the check's timeout, at most its interval.
func (e *entry) timeout() time.Duration {
	if t, iv := e.check.Timeout, e.check.Interval; t > 0 && t <= iv {
		return t
	}
	return e.check.Interval
}

// retire cancels a run of e on the pool, once swap has marked e gone (no
// run starts any more). A connect in flight ends by its timeout; its
// result is dropped.
func (e *entry) retire() {
	if e.pool != nil {
		e.pool.cancel()
	}
}

// swap installs the entries for targets under the lock, queues the events
// of checks whose new type changed the state, and returns the entries it
// removed or replaced, for Set to retire, and events to log.
func (r *Runner) swap(targets []Target) (gone []*entry, evs []Event, errs []error) {
	index, dups := newPairIndex(len(targets), func(i int) (string, netip.AddrPort) { return targets[i].Service, targets[i].Real })
	if len(dups) > 0 {
		targets, errs = dropDups(targets, dups)
		index, _ = newPairIndex(len(targets), func(i int) (string, netip.AddrPort) { return targets[i].Service, targets[i].Real })
	}
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make([]*entry, 0, len(targets))
	rows, health := make([]Pair, 0, len(targets)), make([]RealState, 0, len(targets))
	for _, t := range targets {
		k := key{t.Service, t.Real}
		// The row keeps the target's strings (a kept entry has the
		// previous configuration's): the engine compares them with its
		// configuration's, which are the same bytes in the same place.
		rows = append(rows, Pair{Service: t.Service, Real: t.Real})
		old := r.job(k)
		if old != nil && !old.broken && (old.check == t.Check || reflect.DeepEqual(*old.check, *t.Check)) {
			old.row = int32(len(next))
			next = append(next, old)
			health = append(health, old.tracker.realState())
			continue
		}
		e, err := r.newEntry(now, k, t.Check, old)
		if err != nil {
			errs = append(errs, err)
		}
		e.row = int32(len(next))
		next = append(next, e)
		health = append(health, e.tracker.realState())
		if old != nil && old.tracker.State() != e.tracker.State() {
			ev := e.event(now)
			r.events.push(ev) // under mu, as in record
			evs = append(evs, ev)
		}
	}
	for _, old := range r.entries {
		// A kept entry's row is its new one; another's is its old row,
		// where next holds some other entry, if any.
		if int(old.row) >= len(next) || next[old.row] != old {
			old.gone.Store(true) // under mu: record drops its results from now on
			old.stopRetry()
			gone = append(gone, old)
		}
	}
	r.entries, r.index, r.rows, r.health = next, index, rows, health
	return gone, evs, errs
}

// dropDups returns targets without the positions dups (increasing), and
// an error for each.
func dropDups(targets []Target, dups []int) ([]Target, []error) {
	out := make([]Target, 0, len(targets)-len(dups))
	var errs []error
	for i, t := range targets {
		if len(dups) > 0 && dups[0] == i {
			dups = dups[1:]
			errs = append(errs, fmt.Errorf("healthcheck %s %s: listed twice", t.Service, t.Real))
			continue
		}
		out = append(out, t)
	}
	return out, errs
}

// job is the entry of k, or nil. It runs under mu.
func (r *Runner) job(k key) *entry {
	i := r.index.find(k.service, k.real, func(p int32) netip.AddrPort { return r.rows[p].Real })
	if i < 0 {
		return nil
	}
	return r.entries[i]
}

// newEntry builds the entry for a new or changed check. A check that
// cannot be built becomes a static entry that is down with the reason.
func (r *Runner) newEntry(now time.Time, k key, c *Spec, old *entry) (*entry, error) {
	e := &entry{key: k, check: c}
	ch, target, err := r.factory(*c, k.real)
	if target != k.real {
		e.moved = &target
	}
	if err != nil {
		cause := &Error{Reason: ReasonLocal, Detail: err.Error(), Err: err}
		e.static, e.broken, e.tracker = true, true, *NewTracker(1, 1, false)
		e.tracker.Observe(now, cause)
		return e, fmt.Errorf("healthcheck %s %s: %w", k.service, k.real, err)
	}
	if s, ok := ch.(Static); ok {
		e.static, e.tracker = true, *NewTracker(1, 1, s.Up)
		e.tracker.Observe(now, s.Check(context.Background(), target))
		return e, nil
	}
	up := c.Initial != "down"
	if old != nil {
		up = old.tracker.State() == Up
	}
	e.tracker = *NewTracker(c.Rise, c.Fall, up)
	iv := c.Interval
	if iv <= 0 {
		return e, fmt.Errorf("healthcheck %s %s: interval %v: not positive", k.service, k.real, iv)
	}
	e.phase = spread(k, iv)
	if t, ok := ch.(*TCP); ok && t.connectOnly() && r.engine != nil {
		_, err := newDialSpec(target, t.source, e.timeout())
		e.connect = err == nil // not (a scoped address): the pool
	}
	if !e.connect {
		e.pool = &poolCheck{checker: ch}
		e.pool.ctx, e.pool.cancel = context.WithCancel(r.ctx)
	}
	return e, nil
}

// event is the Event for the entry's current state, set by its check
// type rather than by results.
func (e *entry) event(now time.Time) Event {
	st := e.tracker.Stats()
	ev := Event{Service: e.service, Real: e.real, Up: bool(st.State),
		Reason: st.LastReason, Detail: st.LastDetail, At: now}
	if ev.Detail == "" {
		ev.Detail = "check type " + e.check.Type
	}
	return ev
}

// runChecker is one run of e's Checker on the pool, bounded by the
// check's timeout. A run cut short because e was removed or the Runner
// shut down says nothing about the realserver and is dropped.
func (r *Runner) runChecker(e *entry) {
	ctx, cancel := context.WithTimeout(e.pool.ctx, e.timeout())
	err := e.pool.checker.Check(ctx, e.target())
	cancel()
	if e.pool.ctx.Err() != nil {
		e.isRetry.Store(false)
		e.running.Store(false)
		return
	}
	r.finish(e, err)
}

// engineDone receives the connect engine's results.
func (r *Runner) engineDone(req connReq, err error) { r.finish(req.(*entry), err) }

// finish ends a run: the result goes to the tracker, and only then may
// the next run start, so results are recorded in order. The hook hears of
// it last, so that a hook that has a result knows the run is over.
func (r *Runner) finish(e *entry, err error) {
	due, retry := r.base.Add(e.due), e.isRetry.Swap(false) // the next run may set them once running is false
	recorded := r.record(e, err)
	done := r.clock.Now()
	e.running.Store(false)
	if recorded && r.hook != nil {
		r.hook(Result{Service: e.service, Real: e.real, Due: due, Done: done, Err: err, Retry: retry})
	}
}

// skipped counts a run that did not start because the previous one of
// the same check had not ended.
func (r *Runner) skipped(e *entry, due time.Time) {
	if r.hook != nil {
		r.hook(Result{Service: e.service, Real: e.real, Due: due, Skipped: true})
	}
}

// record feeds one result to e's tracker, unless e was removed or
// replaced meanwhile (then it reports false), and queues the transition it
// causes.
func (r *Runner) record(e *entry, err error) bool {
	now := r.clock.Now()
	r.mu.Lock()
	if e.gone.Load() { // no longer in r.entries
		r.mu.Unlock()
		return false
	}
	changed, tr := e.tracker.Observe(now, err)
	r.health[e.row] = e.tracker.realState()
	ev := Event{Service: e.service, Real: e.real, Up: bool(tr.To), Reason: tr.Reason, Detail: tr.Detail, At: tr.At}
	if changed {
		r.events.push(ev) // under mu: events leave in the order states change
	}
	r.armRetry(e, err != nil)
	r.mu.Unlock()
	if err != nil && r.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		r.log.WithFields(logrus.Fields{"service": e.service, "real": e.real.String(),
			"reason": string(ReasonOf(err))}).Debug("check failed: " + err.Error())
	}
	if changed {
		r.logEvent(ev)
	}
	return true
}
