package healthcheck

import (
	"context"
	"testing"
	"time"
)

// retryCheck is tcpCheck with retries every retry.
func retryCheck(rise, fall int, retry time.Duration) Spec {
	c := tcpCheck(rise, fall)
	c.RetryInterval = retry
	return c
}

// retryPending reports whether the target's check has a retry armed.
func (h *harness) retryPending(t Target) bool {
	h.t.Helper()
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	e := h.r.job(key{t.Service, t.Real})
	if e == nil {
		h.t.Fatalf("%v is not tracked", t.Real)
	}
	return e.retry != nil
}

// retry advances the fake clock by d once the pending retry's timer waits
// on it beside the batches' jobs, and waits for the retry's result.
func (h *harness) retry(d time.Duration) Result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := h.clock.BlockUntilContext(ctx, len(h.batches())+1); err != nil {
		h.t.Fatal("no retry timer waiting on the clock")
	}
	h.clock.Advance(d)
	r := h.next()
	if r.Skipped || !r.Retry || !r.Done.Equal(h.clock.Now()) {
		h.t.Fatalf("result %+v, want a retry at %v", r, h.clock.Now())
	}
	return r
}

// TestRetryTakesDeadRealOut: after the first failed run, the check runs
// again every retry interval, and the fall-th failure takes the
// realserver out fall-1 retry intervals after the first, not fall
// intervals.
func TestRetryTakesDeadRealOut(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t, nil)
	const fall, retry = 3, 100 * time.Millisecond
	tg := Target{"web", srv.addr, new(retryCheck(2, fall, retry))}
	if err := h.set(tg); err != nil {
		t.Fatal(err)
	}
	h.round()
	if h.retryPending(tg) {
		t.Fatal("a retry armed after a success")
	}
	h.quiet()

	srv.close()
	first := h.round()
	if !h.r.Up("web", srv.addr) || !h.retryPending(tg) {
		t.Fatalf("after the first failure: up=%v retry pending=%v, want up and pending", h.r.Up("web", srv.addr), h.retryPending(tg))
	}
	for i := 2; i <= fall; i++ {
		res := h.retry(retry)
		if res.Err == nil {
			t.Fatalf("retry %d passed against a closed port", i-1)
		}
		if want := first.Add(time.Duration(i-1) * retry); !res.Due.Equal(want) {
			t.Errorf("retry %d due at %v, want %v", i-1, res.Due, want)
		}
		if up := h.r.Up("web", srv.addr); up != (i < fall) {
			t.Fatalf("after %d failures up=%v", i, up)
		}
	}
	down := nextEvent(t, h.events)
	if want := first.Add((fall - 1) * retry); down.Up || !down.At.Equal(want) {
		t.Errorf("down event %+v, want down at %v", down, want)
	}
	if h.retryPending(tg) {
		t.Error("a retry armed for a realserver already down")
	}

	// Down: failures arm no retry, and coming back takes rise rounds.
	h.round()
	if h.retryPending(tg) {
		t.Error("a failure of a down realserver armed a retry")
	}
	srv.reopen()
	h.round()
	if h.r.Up("web", srv.addr) || h.retryPending(tg) {
		t.Fatal("up after one success, or a retry armed for it")
	}
	h.round()
	if ev := nextEvent(t, h.events); !ev.Up {
		t.Fatalf("event %+v, want up", ev)
	}
	h.quiet()
}

// TestRetrySuccessResets: a retry that passes resets the count, arms no
// other retry, and the next failure starts from one again.
func TestRetrySuccessResets(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t, nil)
	const fall, retry = 2, 50 * time.Millisecond
	tg := Target{"web", srv.addr, new(retryCheck(1, fall, retry))}
	if err := h.set(tg); err != nil {
		t.Fatal(err)
	}
	h.round()
	h.quiet()
	for range 2 { // each time one failure, then a passing retry
		srv.close()
		h.round()
		srv.reopen()
		if res := h.retry(retry); res.Err != nil {
			t.Fatalf("retry against an open port: %v", res.Err)
		}
		if h.retryPending(tg) || !h.r.Up("web", srv.addr) {
			t.Fatal("after a passing retry: a retry pending, or down")
		}
	}
	h.quiet() // fall 2 and never two failures in a row: no event
}

// TestRetryOff: without a retry interval, or with one no shorter than the
// interval, a failure waits for the next batch.
func TestRetryOff(t *testing.T) {
	for _, iv := range []time.Duration{0, tcpCheck(1, 1).Interval, 2 * tcpCheck(1, 1).Interval} {
		srv := newFlipListener(t)
		h := newHarness(t, nil)
		tg := Target{"web", srv.addr, new(retryCheck(1, 2, iv))}
		if err := h.set(tg); err != nil {
			t.Fatal(err)
		}
		srv.close()
		h.round()
		if h.retryPending(tg) {
			t.Errorf("retry_interval %v: a retry armed", iv)
		}
		h.round()
		if ev := nextEvent(t, h.events); ev.Up {
			t.Errorf("retry_interval %v: event %+v, want down at the second round", iv, ev)
		}
	}
}

// TestRetryStopsWithTarget: a check removed or changed while a retry is
// pending loses the retry, and the Runner shuts down with one pending.
func TestRetryStopsWithTarget(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t, nil)
	tg := Target{"web", srv.addr, new(retryCheck(1, 3, 100*time.Millisecond))}
	if err := h.set(tg); err != nil {
		t.Fatal(err)
	}
	srv.close()
	h.round()
	h.r.mu.Lock()
	old := h.r.job(key{tg.Service, tg.Real})
	h.r.mu.Unlock()
	if !h.retryPending(tg) {
		t.Fatal("no retry after a failure")
	}
	c := *tg.Check // a new Spec, not an edit: the Runner keeps the one it was given
	c.Timeout = time.Second
	changed := Target{tg.Service, tg.Real, &c}
	if err := h.set(changed); err != nil {
		t.Fatal(err)
	}
	h.r.mu.Lock()
	stale := old.retry
	h.r.mu.Unlock()
	if stale != nil {
		t.Error("the replaced check's retry is still armed")
	}
	// The changed check keeps the state, and retries on its own failures.
	h.round()
	if !h.retryPending(changed) {
		t.Fatal("the changed check armed no retry after a failure")
	}
	if err := h.r.Shutdown(); err != nil {
		t.Error(err)
	}
	if h.retryPending(changed) {
		t.Error("a retry still armed after Shutdown")
	}
}
