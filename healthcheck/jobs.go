package healthcheck

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"reflect"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/config"
)

// key names one check: a realserver of a service.
type key struct {
	service string
	real    netip.AddrPort
}

// entry is one check as the Runner runs it.
type entry struct {
	key
	check   config.Check
	checker Checker
	target  netip.AddrPort
	static  bool       // no job: the state is fixed (none, on, off, or broken)
	broken  bool       // the checker could not be built; rebuilt at every Set
	tracker *Tracker   // guarded by Runner.mu
	job     gocron.Job // guarded by Runner.mu; nil until scheduled
}

// swap installs the entries for targets under the lock, queues the events
// of checks whose new type changed the state, and returns what Set must do
// outside the lock: jobs to start and stop, and events to log.
func (r *Runner) swap(targets []Target) (start []*entry, stop []gocron.Job, evs []Event, errs []error) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make(map[key]*entry, len(targets))
	for _, t := range targets {
		k := key{t.Service, t.Real}
		if _, dup := next[k]; dup {
			errs = append(errs, fmt.Errorf("healthcheck %s %s: listed twice", t.Service, t.Real))
			continue
		}
		old := r.jobs[k]
		if old != nil && !old.broken && reflect.DeepEqual(old.check, t.Check) {
			next[k] = old
			continue
		}
		e, err := r.newEntry(now, k, t.Check, old)
		if err != nil {
			errs = append(errs, err)
		}
		next[k] = e
		if !e.static {
			start = append(start, e)
		}
		if old != nil && old.tracker.State() != e.tracker.State() {
			ev := e.event(now)
			r.events.push(ev) // under mu, as in record
			evs = append(evs, ev)
		}
	}
	for k, old := range r.jobs {
		if next[k] != old && old.job != nil {
			stop = append(stop, old.job)
		}
	}
	r.jobs = next
	return start, stop, evs, errs
}

// newEntry builds the entry for a new or changed check. A check that
// cannot be built becomes a static entry that is down with the reason.
func (r *Runner) newEntry(now time.Time, k key, c config.Check, old *entry) (*entry, error) {
	e := &entry{key: k, check: c}
	ch, target, err := r.factory(c, k.real)
	e.checker, e.target = ch, target
	if err != nil {
		e.checker = Static{Up: false}
		cause := &Error{Reason: ReasonLocal, Detail: err.Error(), Err: err}
		e.static, e.broken, e.tracker = true, true, NewTracker(1, 1, false)
		e.tracker.Observe(now, cause)
		return e, fmt.Errorf("healthcheck %s %s: %w", k.service, k.real, err)
	}
	if s, ok := ch.(Static); ok {
		e.static, e.tracker = true, NewTracker(1, 1, s.Up)
		e.tracker.Observe(now, s.Check(context.Background(), target))
		return e, nil
	}
	up := c.Initial != "down"
	if old != nil {
		up = old.tracker.State() == Up
	}
	e.tracker = NewTracker(c.Rise, c.Fall, up)
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

// schedule starts e's job. The first run is spread over the interval by
// a hash of the key, so that many checks do not fire together after a
// start or a reload.
func (r *Runner) schedule(e *entry) error {
	iv := e.check.Interval
	if iv <= 0 {
		return fmt.Errorf("healthcheck %s %s: interval %v: not positive", e.service, e.real, iv)
	}
	first := time.Now().Add(spread(e.key, iv))
	j, err := r.sched.NewJob(gocron.DurationJob(iv), gocron.NewTask(r.task(e)),
		gocron.WithContext(r.ctx),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithStartAt(gocron.WithStartDateTimePast(first)),
		gocron.WithName(e.service+" "+e.real.String()),
	)
	if err != nil {
		return fmt.Errorf("healthcheck %s %s: schedule: %w", e.service, e.real, err)
	}
	r.mu.Lock()
	e.job = j
	r.mu.Unlock()
	return nil
}

// spread is a deterministic offset in [0, interval) derived from the key.
func spread(k key, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(k.service))
	_, _ = h.Write([]byte{0})
	b, _ := k.real.MarshalBinary()
	_, _ = h.Write(b)
	return time.Duration(h.Sum64() % uint64(interval))
}

// task is e's gocron task: one check bounded by the check's timeout. A
// run cut short because the job was removed or the Runner shut down says
// nothing about the realserver and is dropped.
func (r *Runner) task(e *entry) func(context.Context) {
	timeout := e.check.Timeout
	if timeout <= 0 || timeout > e.check.Interval {
		timeout = e.check.Interval
	}
	return func(ctx context.Context) {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := e.checker.Check(cctx, e.target)
		cancel()
		if ctx.Err() != nil {
			return
		}
		r.record(e, err)
	}
}

// record feeds one result to e's tracker, unless e was replaced meanwhile,
// and queues the transition it causes.
func (r *Runner) record(e *entry, err error) {
	now := r.clock.Now()
	r.mu.Lock()
	if r.jobs[e.key] != e {
		r.mu.Unlock()
		return
	}
	changed, tr := e.tracker.Observe(now, err)
	ev := Event{Service: e.service, Real: e.real, Up: bool(tr.To), Reason: tr.Reason, Detail: tr.Detail, At: tr.At}
	if changed {
		r.events.push(ev) // under mu: events leave in the order states change
	}
	r.mu.Unlock()
	if err != nil && r.log.Logger.IsLevelEnabled(logrus.DebugLevel) {
		r.log.WithFields(logrus.Fields{"service": e.service, "real": e.real.String(),
			"reason": string(ReasonOf(err))}).Debug("check failed: " + err.Error())
	}
	if changed {
		r.logEvent(ev)
	}
}
