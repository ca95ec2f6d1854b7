package healthcheck

import (
	"iter"
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
	// Rows writes, per label set labels[i] in turn, a series per part k:
	// names[k]{labels[i],extras[k]} values[k][i]; a NaN leaves the
	// series out. A histogram's buckets, sum and count are its parts.
	Rows(labels []string, names, extras []string, values [][]float64)
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
// rather than 10,000). Retain bounds them to a configuration's.
type Metrics struct {
	mu    sync.RWMutex
	reals map[key]*realMetrics // before Retain: every realserver Observe saw
	// After Retain: the realservers it listed, their counts in one block
	// in the same order, and the index that finds one's position (a
	// map keyed by service and address would cost 9 MB at 100,000).
	block []realMetrics
	addrs []netip.AddrPort // addrs[i] is block[i]'s realserver
	index pairIndex
	svcs  map[string]*histogram
	fixed bool          // Retain was called: Observe makes no entry
	epoch atomic.Uint64 // changes when entries are made or dropped
}

// real returns the counts of a realserver, or nil. It runs under mu.
func (m *Metrics) real(service string, addr netip.AddrPort) *realMetrics {
	if !m.fixed {
		return m.reals[key{service, addr}]
	}
	i := m.index.find(service, addr, func(p int32) netip.AddrPort { return m.addrs[p] })
	if i < 0 {
		return nil
	}
	return &m.block[i]
}

type realMetrics struct {
	last atomic.Int64 // the last run's duration, ns; noRun before any
	// failures are made at the realserver's first failure: most
	// realservers of a large farm never fail, and 100,000 sets of
	// counters would be 11 MB of zeros.
	failures atomic.Pointer[failureCounts]
}

// failureCounts counts a realserver's failures, indexed like reasonList.
type failureCounts [len(reasonList)]atomic.Uint64

// fail counts one failure for reason.
func (rm *realMetrics) fail(r Reason) {
	f := rm.failures.Load()
	if f == nil {
		f = new(failureCounts)
		if !rm.failures.CompareAndSwap(nil, f) {
			f = rm.failures.Load() // another result made them first
		}
	}
	f[reasonIndex(r)].Add(1)
}

// noRun is realMetrics.last before the realserver's first result.
const noRun = -1

func newRealMetrics() *realMetrics {
	rm := &realMetrics{}
	rm.last.Store(noRun)
	return rm
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
	if m.observeKnown(r, d) {
		return
	}
	m.entry(r.Service, r.Real) // make them, then count under the read lock
	m.observeKnown(r, d)
}

// observeKnown counts r in its entries, if they exist, under the read
// lock, which Retain waits for before it copies counts.
func (m *Metrics) observeKnown(r Result, d time.Duration) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	rm, h := m.real(r.Service, r.Real), m.svcs[r.Service]
	if rm == nil || h == nil {
		// Not made yet; or, after Retain, not a realserver of the
		// configuration (a late result of one a reload removed).
		return false
	}
	rm.last.Store(int64(d))
	if r.Err != nil {
		rm.fail(ReasonOf(r.Err))
	}
	i := 0
	for i < len(durationBuckets) && d.Seconds() > durationBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
	return true
}

func (m *Metrics) entry(service string, real netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fixed {
		return // Retain made every entry there is
	}
	k := key{service, real}
	if m.reals[k] == nil {
		m.reals[k] = newRealMetrics()
		m.epoch.Add(1)
	}
	if m.svcs[service] == nil {
		m.svcs[service] = &histogram{}
		m.epoch.Add(1)
	}
}

// Retain makes the realservers reals yields (service and address), and
// their services, the only ones counted, as a configuration put in
// service lists them: the counts of the others, removed by a reload, are
// dropped, and Observe ignores their results (one may still come from a
// check the reload stopped) until a later Retain lists them again, from
// zero. The counts of the realservers kept are kept. Without Retain, the
// Metrics count whatever realserver Observe sees. Call it at every
// configuration change, or a long-running daemon's counts grow with each
// reload's new realservers.
func (m *Metrics) Retain(reals iter.Seq2[string, netip.AddrPort]) {
	m.mu.Lock() // no Observe is under way (it holds the read lock): the counts copied are whole
	defer m.mu.Unlock()
	n := 0
	for range reals {
		n++
	}
	services, addrs := make([]string, 0, n), make([]netip.AddrPort, 0, n)
	for s, a := range reals {
		services, addrs = append(services, s), append(addrs, a)
	}
	at := func(i int) (string, netip.AddrPort) { return services[i], addrs[i] }
	index, dups := newPairIndex(len(addrs), at)
	if len(dups) > 0 { // listed twice: the first stays
		services, addrs = dropPositions(services, dups), dropPositions(addrs, dups)
		index, _ = newPairIndex(len(addrs), at)
	}
	// Every entry in one block, in the order listed (the configuration's):
	// a scrape reads them in that order, twice (latency, failures), and
	// 10,000 scattered ones cost it a cache miss each. Kept counts are
	// copied in, so no block outlives its configuration for the sake of a
	// few entries.
	block := make([]realMetrics, len(addrs))
	svcs := make(map[string]*histogram, len(m.svcs))
	for i, a := range addrs {
		s, rm := services[i], &block[i]
		rm.last.Store(noRun)
		if old := m.real(s, a); old != nil {
			rm.last.Store(old.last.Load())
			rm.failures.Store(old.failures.Load()) // old is dropped: its counts move here
		}
		if svcs[s] == nil {
			if svcs[s] = m.svcs[s]; svcs[s] == nil {
				svcs[s] = &histogram{}
			}
		}
	}
	m.reals, m.block, m.addrs, m.index, m.svcs, m.fixed = nil, block, addrs, index, svcs, true
	m.epoch.Add(1)
}

// dropPositions returns xs without the positions ps (increasing), in a
// new slice.
func dropPositions[T any](xs []T, ps []int) []T {
	out := make([]T, 0, len(xs)-len(ps))
	for i, x := range xs {
		if len(ps) > 0 && ps[0] == i {
			ps = ps[1:]
			continue
		}
		out = append(out, x)
	}
	return out
}

// Len is how many realservers and services the Metrics keep counts of.
func (m *Metrics) Len() (reals, services int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.fixed {
		return len(m.block), len(m.svcs)
	}
	return len(m.reals), len(m.svcs)
}

// LastDuration is how long the realserver's last check took; 0 before any.
func (m *Metrics) LastDuration(service string, real netip.AddrPort) time.Duration {
	m.mu.RLock()
	rm := m.real(service, real)
	m.mu.RUnlock()
	if rm == nil {
		return 0
	}
	return time.Duration(max(rm.last.Load(), 0))
}

// ServiceSeries is a service's name and rendered label set.
type ServiceSeries struct {
	Name, Labels string
}

// View is the realservers and services of one configuration in the
// exposition's order (the engine gives its configuration's, in which
// consecutive lines differ least), with their counts looked up in the
// maps once rather than at every scrape: a View looks again only after
// entries were made or dropped (by Observe before any Retain, or by
// Retain). Make one per configuration.
type View struct {
	m         *Metrics
	labels    []string // the realservers' rendered label sets
	real      func(i int) (service string, addr netip.AddrPort)
	services  []ServiceSeries
	svcLabels []string // services[i].Labels, the slice every scrape passes

	mu    sync.Mutex
	epoch uint64 // m.epoch when rms and hists were looked up
	rms   []*realMetrics
	hists []*histogram
	// Kept from scrape to scrape; a scrape that finds mu taken makes its own.
	values []float64
	hist   [durationLines][]float64
}

// NewView returns the View of realservers labelled labels, real(i) being
// labels[i]'s service and address, and of services; svcLabels holds the
// services' label sets in the same order. Neither slice may change after.
func (m *Metrics) NewView(labels []string, real func(i int) (service string, addr netip.AddrPort), services []ServiceSeries, svcLabels []string) *View {
	return &View{m: m, labels: labels, real: real, services: services, svcLabels: svcLabels}
}

// lookup returns the entries of the View's rows, looking them up again
// when the Metrics made or dropped entries since the last time (a row
// whose entry Retain dropped and made again must not keep the old one).
func (v *View) lookup() ([]*realMetrics, []*histogram) {
	v.m.mu.RLock()
	defer v.m.mu.RUnlock()
	epoch := v.m.epoch.Load() // under the lock: the maps are the epoch's
	if v.epoch == epoch && v.rms != nil {
		return v.rms, v.hists
	}
	// New slices: a scrape may still read the old ones.
	rms, hists := make([]*realMetrics, len(v.labels)), make([]*histogram, len(v.services))
	for i := range rms {
		s, a := v.real(i)
		rms[i] = v.m.real(s, a)
	}
	for i := range hists {
		hists[i] = v.m.svcs[v.services[i].Name]
	}
	v.rms, v.hists, v.epoch = rms, hists, epoch
	return rms, hists
}

// RealState is what the metrics show of a realserver's health, kept
// small: a scrape reads 10,000 of them for each of several families.
type RealState struct {
	Checks  uint64  // results so far
	Since   float64 // the last change between up and down as a Unix time; NaN before any
	Up      bool
	Tracked bool // false: the runner does not track it (yet), and its health series are left out
}

// StateOf returns the RealState of a tracked realserver.
func StateOf(up bool, checks uint64, since time.Time) RealState {
	s := RealState{Checks: checks, Since: math.NaN(), Up: up, Tracked: true}
	if !since.IsZero() {
		s.Since = unixSeconds(since)
	}
	return s
}

// Write writes the health families of the View's realservers, health[i]
// being the i-th's, and the duration histograms of its services.
func (v *View) Write(e Exposition, health []RealState) {
	v.mu.Lock()
	rms, hists := v.lookup()
	values, hist := v.values, v.hist
	v.values, v.hist = nil, [len(hist)][]float64{}
	v.mu.Unlock()
	if len(values) < len(v.labels) {
		values = make([]float64, len(v.labels))
	}
	values = values[:len(v.labels)]
	defer func() {
		if v.mu.TryLock() {
			v.values, v.hist = values, hist
			v.mu.Unlock()
		}
	}()

	labels := v.labels
	column := func(name, help, kind string, val func(h *RealState, rm *realMetrics) float64) {
		e.Family(name, help, kind)
		for i := range health {
			values[i] = math.NaN()
			if h := &health[i]; h.Tracked {
				values[i] = val(h, rms[i])
			}
		}
		e.Column(name, labels, values)
	}
	column("lvsd_real_up", "1 when the realserver's checks say it is up (rise and fall applied), else 0.", "gauge",
		func(h *RealState, _ *realMetrics) float64 { return b2f(h.Up) })
	column("lvsd_real_last_change_timestamp_seconds", "When the realserver last went up or down, as a Unix time; absent before its first change.", "gauge",
		func(h *RealState, _ *realMetrics) float64 { return h.Since })
	column("lvsd_real_checks_total", "Check results recorded for the realserver (restarts at 0 when its check changes).", "counter",
		func(h *RealState, _ *realMetrics) float64 { return float64(h.Checks) })
	column("lvsd_real_check_latency_seconds", "How long the realserver's last check took, from when it was due to its result.", "gauge",
		func(_ *RealState, rm *realMetrics) float64 {
			if rm == nil {
				return math.NaN()
			}
			if ns := rm.last.Load(); ns != noRun {
				return float64(ns) / 1e9
			}
			return math.NaN()
		})
	e.Family("lvsd_real_check_failures_total", "Failed checks of the realserver, by reason; a reason appears with its first failure.", "counter")
	for i := range health {
		rm := rms[i]
		if !health[i].Tracked || rm == nil {
			continue
		}
		f := rm.failures.Load()
		if f == nil {
			continue // never failed
		}
		for j := range f {
			if n := f[j].Load(); n > 0 {
				e.Sample("lvsd_real_check_failures_total", labels[i], reasonLabels[j], float64(n))
			}
		}
	}
	v.writeDurations(e, hists, &hist)
}

// reasonLabels are the failure counters' reason labels, rendered once.
var reasonLabels = func() (out [len(reasonList)]string) {
	for i, r := range reasonList {
		out[i] = `reason="` + string(r) + `"`
	}
	return out
}()

// durationLines is a histogram's lines: its buckets (+Inf too), sum and
// count.
const durationLines = len(histogram{}.counts) + 2

// durationParts are the duration histogram's lines per service: its
// buckets, then its sum and count.
var durationParts = func() (names, extras []string) {
	const name = "lvsd_check_duration_seconds"
	for _, le := range durationLe {
		names, extras = append(names, name+"_bucket"), append(extras, le)
	}
	return append(names, name+"_sum", name+"_count"), append(extras, "", "")
}

var durationNames, durationExtras = durationParts()

// writeDurations writes the duration histograms of the View's services
// that have one, as rows: a service's buckets, sum and count, then the
// next service's.
func (v *View) writeDurations(e Exposition, hists []*histogram, cols *[durationLines][]float64) {
	e.Family("lvsd_check_duration_seconds", "How long checks took, from when each was due to its result, per service.", "histogram")
	n := len(hists)
	for k := range cols {
		if cap(cols[k]) < n {
			cols[k] = make([]float64, n)
		}
		cols[k] = cols[k][:n]
	}
	sum, count := len(durationBuckets)+1, len(durationBuckets)+2
	for i, hist := range hists {
		if hist == nil {
			for k := range cols {
				cols[k][i] = math.NaN()
			}
			continue
		}
		var cum uint64
		for j := range hist.counts {
			cum += hist.counts[j].Load()
			cols[j][i] = float64(cum)
		}
		cols[sum][i] = float64(hist.sumNs.Load()) / 1e9
		cols[count][i] = float64(cum)
		if cum == 0 { // Retain made it; no result yet: the series appear with the first
			for k := range cols {
				cols[k][i] = math.NaN()
			}
		}
	}
	e.Rows(v.svcLabels, durationNames, durationExtras, cols[:])
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
