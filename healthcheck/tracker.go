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
type Tracker struct {
	rise, fall int32 // a Runner holds one per realserver: 100,000 at times
	s          Stats
}

// NewTracker returns a Tracker in the initial state. Rise and fall below 1
// count as 1.
func NewTracker(rise, fall int, initialUp bool) *Tracker {
	return &Tracker{rise: count32(rise), fall: count32(fall), s: Stats{State: State(initialUp)}}
}

// count32 is n within 1..MaxInt32, as a Tracker keeps rise and fall.
func count32(n int) int32 { return int32(min(max(n, 1), math.MaxInt32)) }

// Observe records the result of one check made at now (err nil is a
// success) and reports whether it changed the state, and how.
func (t *Tracker) Observe(now time.Time, err error) (changed bool, tr Transition) {
	s := &t.s
	s.Checks++
	s.LastCheck = now
	if err == nil {
		s.Successes, s.Failures = s.Successes+1, 0
		s.LastReason, s.LastDetail = "", ""
		if s.State == Down && s.Successes >= int(t.rise) {
			return true, t.flip(now, "", successes(s.Successes))
		}
		return false, Transition{}
	}
	s.Successes, s.Failures = 0, s.Failures+1
	s.LastReason, s.LastDetail = ReasonOf(err), err.Error()
	if s.State == Up && s.Failures >= int(t.fall) {
		return true, t.flip(now, s.LastReason, s.LastDetail)
	}
	return false, Transition{}
}

func (t *Tracker) flip(now time.Time, r Reason, detail string) Transition {
	from := t.s.State
	t.s.State, t.s.Since = !from, now
	return Transition{From: from, To: t.s.State, At: now, Reason: r, Detail: detail,
		Successes: t.s.Successes, Failures: t.s.Failures}
}

// State is the current state: the initial one until rise or fall results
// say otherwise.
func (t *Tracker) State() State { return t.s.State }

// Stats returns a copy of what the tracker knows.
func (t *Tracker) Stats() Stats { return t.s }

func successes(n int) string {
	if n == 1 {
		return "1 success"
	}
	return strconv.Itoa(n) + " consecutive successes"
}
