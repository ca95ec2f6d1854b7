package healthcheck

import (
	"math"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Exposition receives metric families in the text format; the status
// server's writer implements it (package director/web, which this
// package does not import).
type Exposition interface {
	// Family starts a family (kind: gauge, counter, histogram).
	Family(name, help, kind string)
	// Sample writes one series: labels rendered without braces, and one
	// more rendered label (extra) or "".
	Sample(name, labels, extra string, v float64)
	// Column writes a series per label set, values[i] for labels[i]; a
	// NaN leaves the series out. labels is the same slice from family to
	// family and scrape to scrape, never modified.
	Column(name string, labels []string, values []float64)
}

// durationBuckets bound lvsd_check_duration_seconds: a loopback connect
// is well under a millisecond, an HTTP check across a farm a few, a sick
// one up to its timeout.
var durationBuckets = []float64{0.001, 0.005, 0.025, 0.1, 0.5, 2.5}

// durationLe are the buckets' le labels, rendered once.
var durationLe = func() []string {
	out := make([]string, len(durationBuckets)+1)
	for i, b := range durationBuckets {
		out[i] = `le="` + formatFloat(b) + `"`
	}
	out[len(durationBuckets)] = `le="+Inf"`
	return out
}()

// Metrics counts check results for Prometheus and the status page: how
// long each check took, and why checks failed. Pass its Observe to the
// Runner with WithResults: it is called where each run ends. Counts are
// kept per realserver (failures) and per service (the duration
// histogram, so that a farm of 10,000 realservers costs 1,000 histograms
// rather than 10,000).
type Metrics struct {
	mu    sync.RWMutex
	reals map[key]*realMetrics
	svcs  map[string]*histogram
}

type realMetrics struct {
	last     atomic.Int64 // the last run's duration, ns
	failures [len(reasonList)]atomic.Uint64
}

// histogram is a fixed-bucket histogram updated with atomics.
type histogram struct {
	counts [7]atomic.Uint64 // per bucket (not cumulative), the last is +Inf
	sumNs  atomic.Int64
}

// reasonList is every Reason, in a fixed order: their failure counters
// are indexed by it.
var reasonList = [...]Reason{ReasonRefused, ReasonTimeout, ReasonReset, ReasonUnreachable, ReasonStatus,
	ReasonBody, ReasonExpect, ReasonTLS, ReasonDNS, ReasonExit, ReasonForcedDown, ReasonLocal, ReasonCanceled, ReasonError}

func reasonIndex(r Reason) int {
	for i, x := range reasonList {
		if x == r {
			return i
		}
	}
	return len(reasonList) - 1 // ReasonError
}

// NewMetrics returns empty counts.
func NewMetrics() *Metrics {
	return &Metrics{reals: map[key]*realMetrics{}, svcs: map[string]*histogram{}}
}

// Observe records one run's result. The duration runs from when the run
// was due to its result, so it includes any wait for a free worker: the
// delay an operator sees. Skipped runs count nothing.
func (m *Metrics) Observe(r Result) {
	if r.Skipped || r.Done.IsZero() {
		return
	}
	d := max(r.Done.Sub(r.Due), 0)
	rm, h := m.entry(r.Service, r.Real)
	rm.last.Store(int64(d))
	if r.Err != nil {
		rm.failures[reasonIndex(ReasonOf(r.Err))].Add(1)
	}
	i := 0
	for i < len(durationBuckets) && d.Seconds() > durationBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

func (m *Metrics) entry(service string, real netip.AddrPort) (*realMetrics, *histogram) {
	k := key{service, real}
	m.mu.RLock()
	rm, h := m.reals[k], m.svcs[service]
	m.mu.RUnlock()
	if rm != nil && h != nil {
		return rm, h
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reals[k] == nil {
		m.reals[k] = &realMetrics{}
	}
	if m.svcs[service] == nil {
		m.svcs[service] = &histogram{}
	}
	return m.reals[k], m.svcs[service]
}

// LastDuration is how long the realserver's last check took; 0 before any.
func (m *Metrics) LastDuration(service string, real netip.AddrPort) time.Duration {
	m.mu.RLock()
	rm := m.reals[key{service, real}]
	m.mu.RUnlock()
	if rm == nil {
		return 0
	}
	return time.Duration(rm.last.Load())
}

// ServiceSeries is a service's name and rendered label set.
type ServiceSeries struct {
	Name, Labels string
}

// Write writes the health families of the realservers whose rendered
// label sets are labels, health[i] being labels[i]'s (nil: not tracked,
// left out), and the duration histograms of services; each in the order
// given: the engine gives its configuration's, in which consecutive
// lines differ least.
func (m *Metrics) Write(e Exposition, labels []string, health []*RealHealth, services []ServiceSeries) {
	rms := make([]*realMetrics, len(health))
	m.mu.RLock()
	for i, h := range health {
		if h != nil {
			rms[i] = m.reals[key{h.Service, h.Real}]
		}
	}
	m.mu.RUnlock()

	values := make([]float64, len(labels))
	column := func(name, help, kind string, v func(h *RealHealth, rm *realMetrics) float64) {
		e.Family(name, help, kind)
		for i, h := range health {
			values[i] = math.NaN()
			if h != nil {
				values[i] = v(h, rms[i])
			}
		}
		e.Column(name, labels, values)
	}
	column("lvsd_real_up", "1 when the realserver's checks say it is up (rise and fall applied), else 0.", "gauge",
		func(h *RealHealth, _ *realMetrics) float64 { return b2f(h.Up) })
	column("lvsd_real_last_change_timestamp_seconds", "When the realserver last went up or down, as a Unix time; absent before its first change.", "gauge",
		func(h *RealHealth, _ *realMetrics) float64 {
			if h.Since.IsZero() {
				return math.NaN()
			}
			return unixSeconds(h.Since)
		})
	column("lvsd_real_checks_total", "Check results recorded for the realserver (restarts at 0 when its check changes).", "counter",
		func(h *RealHealth, _ *realMetrics) float64 { return float64(h.Checks) })
	column("lvsd_real_check_latency_seconds", "How long the realserver's last check took, from when it was due to its result.", "gauge",
		func(_ *RealHealth, rm *realMetrics) float64 {
			if rm == nil {
				return math.NaN()
			}
			return float64(rm.last.Load()) / 1e9
		})
	e.Family("lvsd_real_check_failures_total", "Failed checks of the realserver, by reason; a reason appears with its first failure.", "counter")
	for i, rm := range rms {
		if rm == nil {
			continue
		}
		for j := range rm.failures {
			if n := rm.failures[j].Load(); n > 0 {
				e.Sample("lvsd_real_check_failures_total", labels[i], reasonLabels[j], float64(n))
			}
		}
	}
	m.writeDurations(e, services)
}

// reasonLabels are the failure counters' reason labels, rendered once.
var reasonLabels = func() (out [len(reasonList)]string) {
	for i, r := range reasonList {
		out[i] = `reason="` + string(r) + `"`
	}
	return out
}()

// writeDurations writes the duration histograms of services (those of
// the configuration in service) that have one.
func (m *Metrics) writeDurations(e Exposition, services []ServiceSeries) {
	const name = "lvsd_check_duration_seconds"
	e.Family(name, "How long checks took, from when each was due to its result, per service.", "histogram")
	hists := make([]*histogram, len(services))
	m.mu.RLock()
	for i, s := range services {
		hists[i] = m.svcs[s.Name]
	}
	m.mu.RUnlock()
	for i, hist := range hists {
		if hist == nil {
			continue
		}
		labels := services[i].Labels
		var cum uint64
		for j := range hist.counts {
			cum += hist.counts[j].Load()
			e.Sample(name+"_bucket", labels, durationLe[j], float64(cum))
		}
		e.Sample(name+"_sum", labels, "", float64(hist.sumNs.Load())/1e9)
		e.Sample(name+"_count", labels, "", float64(cum))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
