package ipvs

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the Reconciler does. Register it on a registry and
// pass it in Options.Metrics; a nil *Metrics counts nothing.
type Metrics struct {
	reconciles *prometheus.CounterVec
	errors     prometheus.Counter
	ops        *prometheus.CounterVec
	drift      prometheus.Counter
	duration   prometheus.Histogram
	decision   prometheus.Histogram
	services   prometheus.Gauge
	last       prometheus.Gauge
}

// NewMetrics declares the reconciler's families.
func NewMetrics() *Metrics {
	m := &Metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lvsd_ipvs_reconciles_total",
			Help: "Reconciles of the IPVS table, by trigger: change (a reload, a health decision, a drain) or periodic (drift repair)."},
			[]string{"trigger"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "lvsd_ipvs_reconcile_errors_total",
			Help: "Reconciles that failed (an operation or a read of the table); retried at the next change or interval."}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lvsd_ipvs_operations_total",
			Help: "IPVS netlink operations made by reconciles, by kind."}, []string{"op"}),
		drift: prometheus.NewCounter(prometheus.CounterOpts{Name: "lvsd_ipvs_drift_repairs_total",
			Help: "Periodic reconciles that found the kernel's table changed behind lvsd's back and repaired it."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lvsd_ipvs_reconcile_duration_seconds",
			Help:    "How long one reconcile took: diff and netlink operations, and a read of the table when due.",
			Buckets: []float64{0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10}}),
		decision: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lvsd_ipvs_decision_to_kernel_seconds",
			Help:    "From a change (health decision, drain, reload) to the kernel holding it.",
			Buckets: []float64{0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10}}),
		services: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvsd_ipvs_services",
			Help: "Services in the kernel's IPVS table after the last reconcile."}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvsd_ipvs_last_reconcile_timestamp_seconds",
			Help: "When the last reconcile ran, as a Unix time."}),
	}
	for _, t := range []string{"change", "periodic"} {
		m.reconciles.WithLabelValues(t)
	}
	for _, n := range opNames {
		m.ops.WithLabelValues(n)
	}
	return m
}

// Describe sends every descriptor.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect sends every family.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.reconciles, m.errors, m.ops, m.drift, m.duration, m.decision, m.services, m.last}
}

// observe records one reconcile that took took; decided says it applied a
// change (res.Latency is then the change's wait).
func (m *Metrics) observe(res Result, periodic, decided bool, took time.Duration) {
	if m == nil {
		return
	}
	trigger := "change"
	if periodic {
		trigger = "periodic"
	}
	m.reconciles.WithLabelValues(trigger).Inc()
	if res.Err != nil {
		m.errors.Inc()
	}
	for k, n := range res.Made {
		if n > 0 {
			m.ops.WithLabelValues(OpKind(k).String()).Add(float64(n))
		}
	}
	if periodic && res.Made.Total() > 0 {
		m.drift.Inc()
	}
	m.duration.Observe(took.Seconds())
	if decided {
		m.decision.Observe(res.Latency.Seconds())
	}
	m.services.Set(float64(res.Services))
	m.last.Set(float64(res.At.UnixNano()) / 1e9)
}

// Exposition receives metric families in the text format; the status
// server's writer implements it (package director/web).
type Exposition interface {
	Family(name, help, kind string)
	Sample(name, labels, extra string, v float64)
	// Column writes a series per label set, values[i] for labels[i]; a
	// NaN leaves the series out. labels is the same slice from family to
	// family and scrape to scrape, never modified.
	Column(name string, labels []string, values []float64)
}

// CounterRows are the kernel's counters laid out in the exposition's
// order, beside the rendered label sets of the services and
// destinations (realservers) they belong to. The engine gives its
// configuration's order, and leaves out the services that are not
// lvsd's (node_exporter has those).
type CounterRows struct {
	ServiceLabels []string
	Services      []ServiceRow // Services[i] is ServiceLabels[i]'s
	DestLabels    []string
	Dests         []DestRow   // Dests[i] is DestLabels[i]'s
	Extra         []ExtraDest // destinations the configuration does not list (a sorry server added by hand)
}

// ServiceRow is one service's counters; OK is false for a service not in
// the kernel (yet).
type ServiceRow struct {
	OK               bool
	C                Counters
	Active, Inactive uint64 // its destinations' connections, summed
}

// NewServiceRow sums the destinations' connections of c.
func NewServiceRow(c Counters) ServiceRow {
	r := ServiceRow{OK: true, C: c}
	for _, d := range c.Dests {
		r.Active += uint64(d.Active)
		r.Inactive += uint64(d.Inactive)
	}
	return r
}

// DestRow is one destination's counters; OK is false for one not in the
// kernel.
type DestRow struct {
	OK bool
	C  DestCounters
}

// ExtraDest is a destination's counters with its rendered label set.
type ExtraDest struct {
	Labels string
	C      DestCounters
}

// WriteCounters writes the kernel's counters per service and per
// destination (realserver). The per-destination active and inactive
// connections and weight are node_exporter's node_ipvs_backend_* series,
// with the same label names, and are not repeated here. It writes each
// column's values into scratch when it is big enough, and returns the
// slice it used, for the next scrape.
func WriteCounters(e Exposition, r *CounterRows, scratch []float64) []float64 {
	values := scratch
	if n := max(len(r.Services), len(r.Dests)); cap(values) < n {
		values = make([]float64, n)
	}
	values = values[:cap(values)]
	svc := func(name, help, kind string, v func(s *ServiceRow) uint64) {
		e.Family(name, help, kind)
		for i := range r.Services {
			values[i] = math.NaN()
			if r.Services[i].OK {
				values[i] = float64(v(&r.Services[i]))
			}
		}
		e.Column(name, r.ServiceLabels, values[:len(r.Services)])
	}
	svc("lvsd_ipvs_service_connections_active", "Active connections of the service's realservers (the kernel's).", "gauge",
		func(s *ServiceRow) uint64 { return s.Active })
	svc("lvsd_ipvs_service_connections_inactive", "Inactive connections of the service's realservers (the kernel's).", "gauge",
		func(s *ServiceRow) uint64 { return s.Inactive })
	svc("lvsd_ipvs_service_connections_total", "Connections the service received (the kernel's counter).", "counter",
		func(s *ServiceRow) uint64 { return uint64(s.C.Connections) })
	svc("lvsd_ipvs_service_packets_in_total", "Packets in to the service.", "counter",
		func(s *ServiceRow) uint64 { return uint64(s.C.InPackets) })
	svc("lvsd_ipvs_service_packets_out_total", "Packets out of the service.", "counter",
		func(s *ServiceRow) uint64 { return uint64(s.C.OutPackets) })
	svc("lvsd_ipvs_service_bytes_in_total", "Bytes in to the service.", "counter",
		func(s *ServiceRow) uint64 { return s.C.InBytes })
	svc("lvsd_ipvs_service_bytes_out_total", "Bytes out of the service.", "counter",
		func(s *ServiceRow) uint64 { return s.C.OutBytes })
	dst := func(name, help string, v func(d *DestCounters) uint64) {
		e.Family(name, help, "counter")
		for i := range r.Dests {
			values[i] = math.NaN()
			if r.Dests[i].OK {
				values[i] = float64(v(&r.Dests[i].C))
			}
		}
		e.Column(name, r.DestLabels, values[:len(r.Dests)])
		for i := range r.Extra {
			e.Sample(name, r.Extra[i].Labels, "", float64(v(&r.Extra[i].C)))
		}
	}
	dst("lvsd_ipvs_real_connections_total", "Connections the kernel gave the realserver since it was added.",
		func(d *DestCounters) uint64 { return uint64(d.Total) })
	dst("lvsd_ipvs_real_packets_in_total", "Packets in to the realserver.",
		func(d *DestCounters) uint64 { return uint64(d.InPackets) })
	dst("lvsd_ipvs_real_packets_out_total", "Packets out of the realserver.",
		func(d *DestCounters) uint64 { return uint64(d.OutPackets) })
	dst("lvsd_ipvs_real_bytes_in_total", "Bytes in to the realserver.",
		func(d *DestCounters) uint64 { return d.InBytes })
	dst("lvsd_ipvs_real_bytes_out_total", "Bytes out of the realserver.",
		func(d *DestCounters) uint64 { return d.OutBytes })
	return values
}
