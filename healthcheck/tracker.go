package healthcheck

import (
	"math"
	"strconv"
	"time"
)

// State is a realserver's health as the checks see it.
type State bool

// The two states.
const (
	Down State = false
	Up   State = true
)

// String returns "up" or "down".
func (s State) String() string {
	if s {
		return "up"
	}
	return "down"
}

// Transition is a change of state decided by a Tracker.
type Transition struct {
	From, To  State
	At        time.Time
	Reason    Reason // of the last failure; "" when going up
	Detail    string // the last failure's message, or how many successes
	Successes int    // consecutive, including this result
	Failures  int    // consecutive, including this result
}

// Stats is what a Tracker knows, for status pages.
type Stats struct {
	State      State
	Successes  int // consecutive
	Failures   int // consecutive
	Checks     uint64
	LastCheck  time.Time // zero before the first result
	LastReason Reason    // "" when the last check passed
	LastDetail string
	Since      time.Time // of the last change of State; zero before any
}

// Tracker damps check results into a state, like ldirectord and
// keepalived: an up realserver goes down after fall consecutive failures,
// a down one comes up after rise consecutive successes. A success resets
// the failure count and a failure the success count. It has no goroutines
// and no clock: the caller passes the time of each result. It is not safe
// for concurrent use.
//
// A Runner holds one per realserver, 100,000 at times, so it keeps what
// Stats reports in 64 bytes rather than Stats' 112: times as Unix
// nanoseconds, counts in 32 bits, and the last failure's reason and
// message behind a pointer, nil while checks pass (most of the time, for
// most realservers).
type Tracker struct {
	rise, fall          int32
	successes, failures int32 // consecutive
	checks              uint64
	lastCheck, since    int64    // Unix nanoseconds; 0: none yet
	last                *failure // the last result's, nil when it passed
	state               State
}

// failure is a Tracker's last failed result.
type failure struct {
	reason Reason
	detail string
}

// NewTracker returns a Tracker in the initial state. Rise and fall below 1
// count as 1.
func NewTracker(rise, fall int, initialUp bool) *Tracker {
	return &Tracker{rise: count32(rise), fall: count32(fall), state: State(initialUp)}
}

// count32 is n within 1..MaxInt32, as a Tracker keeps rise and fall.
func count32(n int) int32 { return int32(min(max(n, 1), math.MaxInt32)) }

// Observe records the result of one check made at now (err nil is a
// success) and reports whether it changed the state, and how.
func (t *Tracker) Observe(now time.Time, err error) (changed bool, tr Transition) {
	t.checks++
	t.lastCheck = unixNano(now)
	if err == nil {
		t.successes, t.failures = inc32(t.successes), 0
		t.last = nil
		if t.state == Down && t.successes >= t.rise {
			return true, t.flip(now, "", successes(int(t.successes)))
		}
		return false, Transition{}
	}
	t.successes, t.failures = 0, inc32(t.failures)
	if t.last == nil {
		t.last = &failure{}
	}
	t.last.reason, t.last.detail = ReasonOf(err), err.Error()
	if t.state == Up && t.failures >= t.fall {
		return true, t.flip(now, t.last.reason, t.last.detail)
	}
	return false, Transition{}
}

// inc32 is n+1, saturating: a count of 2^31 results in a row says no less.
func inc32(n int32) int32 {
	if n == math.MaxInt32 {
		return n
	}
	return n + 1
}

func (t *Tracker) flip(now time.Time, r Reason, detail string) Transition {
	from := t.state
	t.state, t.since = !from, unixNano(now)
	return Transition{From: from, To: t.state, At: now, Reason: r, Detail: detail,
		Successes: int(t.successes), Failures: int(t.failures)}
}

// State is the current state: the initial one until rise or fall results
// say otherwise.
func (t *Tracker) State() State { return t.state }

// Stats returns a copy of what the tracker knows; its times are in UTC.
func (t *Tracker) Stats() Stats {
	s := Stats{State: t.state, Successes: int(t.successes), Failures: int(t.failures), Checks: t.checks,
		LastCheck: fromUnixNano(t.lastCheck), Since: fromUnixNano(t.since)}
	if t.last != nil {
		s.LastReason, s.LastDetail = t.last.reason, t.last.detail
	}
	return s
}

// unixNano is t as a Tracker keeps it: 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano undoes unixNano.
func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func successes(n int) string {
	if n == 1 {
		return "1 success"
	}
	return strconv.Itoa(n) + " consecutive successes"
}
