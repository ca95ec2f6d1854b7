package healthcheck

import (
	"cmp"
	"math"
	"net/netip"
	"slices"
	"time"
)

// RealHealth is the health of one realserver of a service, for status.
type RealHealth struct {
	Service    string
	Real       netip.AddrPort
	Target     netip.AddrPort // what the check probes (address and port overrides applied)
	Type       string         // the check type
	Up         bool
	Successes  int    // consecutive
	Failures   int    // consecutive
	Checks     uint64 // results so far
	LastCheck  time.Time
	LastReason Reason // "" when the last check passed
	LastDetail string
	Since      time.Time // the last change between up and down; zero before any
}

// State reports whether a realserver of a service is up, and whether the
// Runner tracks it at all (known is false for a pair not given to Set).
// Before the first result it is the check's initial state.
func (r *Runner) State(service string, real netip.AddrPort) (up bool, known bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.job(key{service, real})
	if e == nil {
		return false, false
	}
	return e.tracker.State() == Up, true
}

// Up reports whether a realserver of a service is up: its check's initial
// state before the first result, false for a pair the Runner does not
// track.
func (r *Runner) Up(service string, real netip.AddrPort) bool {
	up, _ := r.State(service, real)
	return up
}

// Snapshot returns the health of every tracked realserver, ordered by
// service and then realserver.
func (r *Runner) Snapshot() []RealHealth {
	out := r.Unsorted()
	slices.SortFunc(out, func(a, b RealHealth) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), a.Real.Compare(b.Real))
	})
	return out
}

// Pair names a realserver of a service.
type Pair struct {
	Service string
	Real    netip.AddrPort
}

// HealthRows calls f with the realservers the Runner tracks, in the order
// of the targets Set was last given (less any listed twice), and what the
// metrics read of their health: health[i] is rows[i]'s. A scrape reads
// 10,000 of them a second; they are kept in two slices, updated as
// results are recorded, so that it copies them in order rather than
// visiting the entries. f runs under the Runner's lock: it must be quick,
// must not call the Runner, and must not keep the slices.
func (r *Runner) HealthRows(f func(rows []Pair, health []RealState)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.rows, r.health)
}

// realState is what the metrics read of the tracker's state.
func (t *Tracker) realState() RealState {
	s := RealState{Checks: t.checks, Since: math.NaN(), Up: t.state == Up, Tracked: true}
	if t.since != 0 {
		s.Since = float64(t.since) / 1e9
	}
	return s
}

// Unsorted is Snapshot in no particular order, for the metrics
// exposition, which needs none: sorting 10,000 realservers would cost a
// scrape more than writing them.
func (r *Runner) Unsorted() []RealHealth {
	r.mu.Lock()
	out := make([]RealHealth, 0, len(r.entries))
	for _, e := range r.entries {
		st := e.tracker.Stats()
		out = append(out, RealHealth{
			Service: e.service, Real: e.real, Target: e.target(), Type: e.check.Type,
			Up: st.State == Up, Successes: st.Successes, Failures: st.Failures,
			Checks: st.Checks, LastCheck: st.LastCheck,
			LastReason: st.LastReason, LastDetail: st.LastDetail, Since: st.Since,
		})
	}
	r.mu.Unlock()
	return out
}
