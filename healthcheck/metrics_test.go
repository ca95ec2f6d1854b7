package healthcheck

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// recorder is an Exposition that keeps what it is given, one line a
// series, as "name{labels,extra} value".
type recorder struct {
	families []string
	lines    map[string]float64
}

func (r *recorder) Family(name, _, kind string) { r.families = append(r.families, name+" "+kind) }
func (r *recorder) Sample(name, labels, extra string, v float64) {
	l := labels
	if extra != "" {
		l = strings.TrimPrefix(l+","+extra, ",")
	}
	r.lines[name+"{"+l+"}"] = v
}

func (r *recorder) Column(name string, labels []string, values []float64) {
	for i, v := range values {
		if !math.IsNaN(v) {
			r.Sample(name, labels[i], "", v)
		}
	}
}

func (r *recorder) Rows(labels []string, names, extras []string, values [][]float64) {
	for i := range labels {
		for k, name := range names {
			if v := values[k][i]; !math.IsNaN(v) {
				r.Sample(name, labels[i], extras[k], v)
			}
		}
	}
}

// series labels the realservers of snap, and one more that the runner
// does not track, and the service "web" ("gone" is not in the
// configuration any more).
func series(m *Metrics, snap []RealHealth) (*View, []RealState) {
	var labels []string
	var health []RealState
	for _, h := range snap {
		labels = append(labels, fmt.Sprintf(`service=%q,real=%q`, h.Service, h.Real))
		health = append(health, StateOf(h.Up, h.Checks, h.Since))
	}
	labels = append(labels, `service="web",real="untracked"`)
	health = append(health, RealState{})
	real := func(i int) (string, netip.AddrPort) {
		if i < len(snap) {
			return snap[i].Service, snap[i].Real
		}
		return "web", netip.AddrPort{}
	}
	return m.NewView(labels, real, []ServiceSeries{{Name: "web", Labels: `service="web"`}}, []string{`service="web"`}), health
}

func TestMetricsCountResults(t *testing.T) {
	m := NewMetrics()
	web := netip.MustParseAddrPort("192.0.2.1:80")
	due := time.Unix(1000, 0)
	m.Observe(Result{Service: "web", Real: web, Due: due, Done: due.Add(3 * time.Millisecond)})
	m.Observe(Result{Service: "web", Real: web, Due: due, Done: due.Add(700 * time.Millisecond),
		Err: fail(ReasonTimeout, "connect 192.0.2.1:80: timeout after 700ms")})
	m.Observe(Result{Service: "web", Real: web, Due: due, Skipped: true})
	m.Observe(Result{Service: "gone", Real: web, Due: due, Done: due.Add(time.Millisecond)})
	if got := m.LastDuration("web", web); got != 700*time.Millisecond {
		t.Errorf("last duration %v, want 700ms", got)
	}
	since := time.Unix(2000, 500_000_000)
	snap := []RealHealth{
		{Service: "web", Real: web, Up: true, Checks: 2, Since: since},
		{Service: "web", Real: netip.MustParseAddrPort("192.0.2.2:80"), Up: false, Checks: 0},
	}
	r := &recorder{lines: map[string]float64{}}
	view, health := series(m, snap)
	view.Write(r, health)
	want := map[string]float64{
		`lvsd_real_up{service="web",real="192.0.2.1:80"}`:                                    1,
		`lvsd_real_up{service="web",real="192.0.2.2:80"}`:                                    0,
		`lvsd_real_last_change_timestamp_seconds{service="web",real="192.0.2.1:80"}`:         2000.5,
		`lvsd_real_checks_total{service="web",real="192.0.2.1:80"}`:                          2,
		`lvsd_real_check_latency_seconds{service="web",real="192.0.2.1:80"}`:                 0.7,
		`lvsd_real_check_failures_total{service="web",real="192.0.2.1:80",reason="timeout"}`: 1,
		`lvsd_check_duration_seconds_bucket{service="web",le="0.001"}`:                       0,
		`lvsd_check_duration_seconds_bucket{service="web",le="0.005"}`:                       1,
		`lvsd_check_duration_seconds_bucket{service="web",le="0.5"}`:                         1,
		`lvsd_check_duration_seconds_bucket{service="web",le="2.5"}`:                         2,
		`lvsd_check_duration_seconds_bucket{service="web",le="+Inf"}`:                        2,
		`lvsd_check_duration_seconds_count{service="web"}`:                                   2,
		`lvsd_check_duration_seconds_sum{service="web"}`:                                     0.703,
	}
	for k, v := range want {
		got, ok := r.lines[k]
		if !ok || got < v-1e-9 || got > v+1e-9 {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// No change yet: no timestamp; no check yet: no latency.
	for _, k := range []string{
		`lvsd_real_last_change_timestamp_seconds{service="web",real="192.0.2.2:80"}`,
		`lvsd_real_check_latency_seconds{service="web",real="192.0.2.2:80"}`,
		`lvsd_real_check_failures_total{service="web",real="192.0.2.1:80",reason="refused"}`,
		`lvsd_check_duration_seconds_count{service="gone"}`,
		`lvsd_real_up{service="web",real="untracked"}`,
	} {
		if _, ok := r.lines[k]; ok {
			t.Errorf("%s written, want absent", k)
		}
	}
	if len(r.families) != 6 {
		t.Errorf("families %v, want 6", r.families)
	}
}

// A View made before any result finds the entries made after, and keeps
// finding the ones it found.
func TestViewFindsLaterEntries(t *testing.T) {
	m := NewMetrics()
	web := netip.MustParseAddrPort("192.0.2.1:80")
	view, health := series(m, []RealHealth{{Service: "web", Real: web, Up: true}})
	latency := `lvsd_real_check_latency_seconds{service="web",real="192.0.2.1:80"}`
	count := `lvsd_check_duration_seconds_count{service="web"}`
	r := &recorder{lines: map[string]float64{}}
	view.Write(r, health)
	if _, ok := r.lines[latency]; ok {
		t.Errorf("%s written before any check", latency)
	}
	due := time.Unix(1000, 0)
	for n := range 2 {
		m.Observe(Result{Service: "web", Real: web, Due: due, Done: due.Add(time.Duration(n+1) * 10 * time.Millisecond)})
		r = &recorder{lines: map[string]float64{}}
		view.Write(r, health)
		if got, want := r.lines[latency], float64(n+1)/100; got != want {
			t.Errorf("after %d checks: %s = %v, want %v", n+1, latency, got, want)
		}
		if got := r.lines[count]; got != float64(n+1) {
			t.Errorf("after %d checks: %s = %v", n+1, count, got)
		}
	}
}

// pairs yields the (service, realserver) pairs given, as a configuration
// lists them.
func pairs(ps ...RealHealth) func(func(string, netip.AddrPort) bool) {
	return func(yield func(string, netip.AddrPort) bool) {
		for _, p := range ps {
			if !yield(p.Service, p.Real) {
				return
			}
		}
	}
}

// Reloads that replace realservers do not grow the counts: Retain drops
// those of the realservers and services a configuration no longer lists,
// keeps the others', ignores late results of the removed ones, and counts
// a realserver listed again from zero. A View of the configuration in
// service stops writing the removed ones (Prometheus's convention for a
// target that went: its series disappear rather than freeze).
func TestRetainDropsRemovedRealservers(t *testing.T) {
	m := NewMetrics()
	due := time.Unix(1000, 0)
	observe := func(service string, real netip.AddrPort, took time.Duration) {
		m.Observe(Result{Service: service, Real: real, Due: due, Done: due.Add(took), Err: fail(ReasonRefused, "refused")})
	}
	kept := RealHealth{Service: "web", Real: netip.MustParseAddrPort("192.0.2.1:80"), Up: true}
	for gen := range 100 { // each configuration: the kept realserver and a new one, in a service of its own too
		added := RealHealth{Service: "web", Real: netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), uint16(1000+gen))}
		other := RealHealth{Service: fmt.Sprintf("svc%d", gen), Real: added.Real}
		m.Retain(pairs(kept, added, other))
		observe(kept.Service, kept.Real, time.Millisecond)
		observe(added.Service, added.Real, time.Millisecond)
		observe(other.Service, other.Real, time.Millisecond)
	}
	if reals, svcs := m.Len(); reals != 3 || svcs != 2 {
		t.Fatalf("after 100 configurations: counts of %d realservers and %d services, want 3 and 2", reals, svcs)
	}
	gone := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.1"), 1000)
	observe("web", gone, time.Second) // a result of a check the last reload stopped
	observe("svc0", gone, time.Second)
	if reals, svcs := m.Len(); reals != 3 || svcs != 2 || m.LastDuration("web", gone) != 0 {
		t.Fatalf("a removed realserver's late result was counted: %d realservers, %d services", reals, svcs)
	}
	view, health := series(m, []RealHealth{kept})
	r := &recorder{lines: map[string]float64{}}
	view.Write(r, health)
	failures := `lvsd_real_check_failures_total{service="web",real="192.0.2.1:80",reason="refused"}`
	if got := r.lines[failures]; got != 100 {
		t.Errorf("%s = %v, want 100: the kept realserver's counts were lost", failures, got)
	}
	for k := range r.lines {
		if strings.Contains(k, "198.51.100.1") || strings.Contains(k, "svc0") {
			t.Errorf("%s written for a realserver or service removed", k)
		}
	}
	// Listed again, it starts from zero, and a View made before finds it.
	m.Retain(pairs(kept, RealHealth{Service: "web", Real: gone}))
	view, health = series(m, []RealHealth{kept, {Service: "web", Real: gone}})
	view.Write(&recorder{lines: map[string]float64{}}, health)
	m.Retain(pairs(kept)) // dropped again under the View's feet
	m.Retain(pairs(kept, RealHealth{Service: "web", Real: gone}))
	observe("web", gone, 5*time.Millisecond)
	r = &recorder{lines: map[string]float64{}}
	view.Write(r, health)
	if got := r.lines[`lvsd_real_check_failures_total{service="web",real="198.51.100.1:1000",reason="refused"}`]; got != 1 {
		t.Errorf("failures of a realserver listed again: %v, want 1 (from zero, read through the new entry)", got)
	}
	if got := r.lines[`lvsd_real_check_latency_seconds{service="web",real="198.51.100.1:1000"}`]; got != 0.005 {
		t.Errorf("latency of a realserver listed again: %v, want 0.005", got)
	}
}

// Before its first result, a realserver Retain lists writes no latency
// and its service no histogram, as before Retain.
func TestRetainWritesNothingBeforeResults(t *testing.T) {
	m := NewMetrics()
	web := RealHealth{Service: "web", Real: netip.MustParseAddrPort("192.0.2.1:80"), Up: true}
	m.Retain(pairs(web))
	view, health := series(m, []RealHealth{web})
	r := &recorder{lines: map[string]float64{}}
	view.Write(r, health)
	for k := range r.lines {
		if strings.Contains(k, "latency") || strings.Contains(k, "duration") || strings.Contains(k, "failures") {
			t.Errorf("%s written before any result", k)
		}
	}
	if m.LastDuration("web", web.Real) != 0 {
		t.Errorf("last duration before any result: %v", m.LastDuration("web", web.Real))
	}
}
