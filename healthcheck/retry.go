package healthcheck

import (
	"time"

	"github.com/jonboulle/clockwork"
)

// Retries. After a failed check of a realserver that is up, its next run
// comes Spec.RetryInterval after that result instead of at its next batch,
// until fall failures in a row take it down or a success resets the
// count. A realserver that dies is then out about one interval plus
// (fall-1) retry intervals later, instead of fall intervals, while a
// single lost probe still does not take it out. A down realserver comes
// back at the normal pace: rise successes an interval apart, since
// flapping back in costs more than staying out a little longer.
//
// A retry is a one-off timer on the Runner's clock (so tests drive it on
// a fake one), armed by record under Runner.mu; at most one per check is
// pending. It starts a run exactly as a batch does, unless a run of the
// check is under way: that run's result decides whether to retry again.

// retryInterval is how soon a failed check of c runs again: 0 when
// retries are off (not set, or no shorter than the interval, which a
// batch then does anyway).
func retryInterval(c Spec) time.Duration {
	if c.RetryInterval <= 0 || c.RetryInterval >= c.Interval {
		return 0
	}
	return c.RetryInterval
}

// armRetry runs under r.mu after e's tracker recorded a result: a failure
// that left e up arms a retry, replacing one pending.
func (r *Runner) armRetry(e *entry, failed bool) {
	iv := retryInterval(*e.check)
	if !failed || iv == 0 || e.tracker.State() != Up || r.retriesStopped {
		return
	}
	e.stopRetry()
	p := &pendingRetry{}
	p.timer = r.clock.AfterFunc(iv, func() { r.retryRun(e, p) }) // p is set: retryRun takes mu first
	e.retry = p
}

// pendingRetry is an armed retry timer: retryRun forgets it when it fires,
// unless another replaced it meanwhile.
type pendingRetry struct{ timer clockwork.Timer }

// stopRetry cancels e's pending retry, if any. It runs under r.mu.
func (e *entry) stopRetry() {
	if e.retry != nil {
		e.retry.timer.Stop()
		e.retry = nil
	}
}

// retryRun is a retry timer's function: it starts one run of e, on the
// connect engine or the pool as a batch would, unless e is gone, the
// Runner is shutting down, or a run of e is under way.
func (r *Runner) retryRun(e *entry, p *pendingRetry) {
	r.mu.Lock()
	if e.retry == p {
		e.retry = nil
	}
	if r.retriesStopped || e.gone.Load() || !e.running.CompareAndSwap(false, true) {
		r.mu.Unlock()
		return
	}
	r.retrying.Add(1) // under mu, before stopRetries can wait: see there
	r.mu.Unlock()
	defer r.retrying.Done()
	e.due = r.clock.Since(r.base)
	e.isRetry.Store(true)
	if e.connect {
		r.engine.start(e)
		return
	}
	if !r.pool.run(func() { r.runChecker(e) }) {
		e.isRetry.Store(false)
		e.running.Store(false)
	}
}

// stopRetries stops every pending retry and waits for the retries being
// started, so that none reaches the pool or the engine after Shutdown
// waits for them.
func (r *Runner) stopRetries() {
	r.mu.Lock()
	r.retriesStopped = true
	for _, e := range r.entries {
		e.stopRetry()
	}
	r.mu.Unlock()
	r.retrying.Wait()
}
