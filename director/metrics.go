package director

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover/connsync"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/director/web"
	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/vrrp"
)

// metrics are the daemon's Prometheus families. Each part declares its
// own beside the code that changes it (vrrp, healthcheck, ipvs); the
// engine's are reloads, the configuration, the handover and the
// realservers' drain and weights. The registry is the daemon's own, never
// the global one, so that two daemons in one test process never collide.
type metrics struct {
	reg    *prometheus.Registry
	health *healthcheck.Metrics
	ipvs   *ipvs.Metrics

	reloads        *prometheus.CounterVec
	lastReload     prometheus.Gauge
	lastReloadOK   prometheus.Gauge
	configHash     prometheus.Gauge
	handoverTables prometheus.Counter
	handoverConns  prometheus.Counter
	handoverErrors prometheus.Counter
	sweeps         *prometheus.CounterVec
	sweptConns     prometheus.Counter

	labels   atomic.Pointer[labelSet]
	counters counterCache // the kernel's IPVS counters, shared by scrapes and status
	bulk     bulkScratch  // the scrapes' per-realserver health, kept from one to the next
}

// bulkScratch holds a scrape's view of the realservers' health in the
// configuration's order, reused from scrape to scrape rather than
// allocated (and collected) each second. A scrape that finds it taken
// uses one of its own.
type bulkScratch struct {
	mu       sync.Mutex
	health   []healthcheck.RealState
	values   []float64 // a column of the engine's families
	counters counterRows
}

func (m *metrics) takeBulk() *bulkScratch {
	if m.bulk.mu.TryLock() {
		return &m.bulk
	}
	b := &bulkScratch{}
	b.mu.Lock()
	return b
}

func newMetrics(d *Director) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(), health: healthcheck.NewMetrics(), ipvs: ipvs.NewMetrics(),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lvsd_reloads_total",
			Help: "Reloads of the configuration, by result: accepted or rejected (the running one kept serving)."},
			[]string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvsd_config_last_reload_timestamp_seconds",
			Help: "When the last reload was tried, as a Unix time; 0 before any."}),
		lastReloadOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvsd_config_last_reload_successful",
			Help: "1 when the last reload was accepted (or none was tried), 0 when it was rejected."}),
		configHash: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvsd_config_hash",
			Help: "A hash of the configuration in service (48 bits of its SHA-256): it differs between the pair when their files do."}),
		handoverTables: prometheus.NewCounter(prometheus.CounterOpts{Name: "lvsd_handover_tables_sent_total",
			Help: "Connection tables sent to the peer at VIP moves."}),
		handoverConns: prometheus.NewCounter(prometheus.CounterOpts{Name: "lvsd_handover_connections_sent_total",
			Help: "Connections sent to the peer in those tables."}),
		handoverErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "lvsd_handover_errors_total",
			Help: "Connection tables that could not be sent."}),
		sweeps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lvsd_handover_sweeps_total",
			Help: "Sweeps of a backup's closed TCP connections (TIME_WAIT, CLOSE), by result: ok or failed."}, []string{"result"}),
		sweptConns: prometheus.NewCounter(prometheus.CounterOpts{Name: "lvsd_handover_swept_connections_total",
			Help: "Closed TCP connections a backup's sweeps expired (its kernel would have kept them up to 120 s)."}),
	}
	m.sweeps.WithLabelValues("ok")
	m.sweeps.WithLabelValues("failed")
	m.reloads.WithLabelValues("accepted")
	m.reloads.WithLabelValues("rejected")
	m.lastReloadOK.Set(1)
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvsd_build_info",
		Help:        "lvsd's version and the Go release that built it; always 1.",
		ConstLabels: prometheus.Labels{"version": d.version, "goversion": runtime.Version()}})
	build.Set(1)
	generation := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lvsd_config_generation",
		Help: "Generation of the configuration in service: 1 at start, +1 at each accepted reload."},
		func() float64 { return float64(d.Current().Generation) })
	started := prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvsd_start_time_seconds",
		Help: "When this lvsd started, as a Unix time."})
	started.Set(float64(d.started.UnixNano()) / 1e9)
	held := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "lvsd_handover_held_packets_total",
		Help: "Resets and untranslated NAT replies held while connection tables arrived (nftables counter)."},
		func() float64 {
			if !d.serving.Load() {
				return 0
			}
			n, _ := d.handover.Held()
			return float64(n)
		})
	m.reg.MustRegister(m.reloads, m.lastReload, m.lastReloadOK, m.configHash, m.handoverTables, m.handoverConns,
		m.handoverErrors, m.sweeps, m.sweptConns, build, generation, started, held, m.ipvs,
		vrrp.NewMetrics(func() []*vrrp.Node {
			if !d.serving.Load() {
				return nil
			}
			return d.vrrp.nodes
		}),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// loaded records a configuration put in service: its hash, and the
// realservers and services whose check counts the metrics keep (those of
// a previous configuration are dropped, so that reloads do not grow them).
func (m *metrics) loaded(cfg *config.Config) {
	m.configHash.Set(float64(configHash(cfg)))
	m.health.Retain(func(yield func(string, netip.AddrPort) bool) {
		for _, s := range cfg.Services {
			for _, r := range s.Reals {
				if !yield(s.Name, r.Addr) {
					return
				}
			}
		}
	})
}

// configHash is 48 bits of the SHA-256 of cfg as JSON, written into the
// hash a part at a time: the configuration without its services, then
// each service without its realservers, then each of those (JSON values
// delimit themselves, and the three kinds have different keys, so the
// parts cannot be read another way). json.Marshal of the whole, or an
// Encoder's Encode of it, builds it all in one buffer first: 64 MB at
// 1,000 services x 10 realservers, each realserver repeating its check.
func configHash(cfg *config.Config) uint64 {
	h := sha256.New()
	enc := json.NewEncoder(h) // encodes one value into a pooled buffer, then writes it
	head := *cfg
	head.Services = nil
	_ = enc.Encode(&head) // a hash.Hash never fails a write, and the types always encode
	for i := range cfg.Services {
		svc := cfg.Services[i]
		svc.Reals = nil
		_ = enc.Encode(&svc)
		for j := range cfg.Services[i].Reals {
			_ = enc.Encode(&cfg.Services[i].Reals[j])
		}
	}
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0])[:8]) >> 16
}

// reloaded records a reload's outcome.
func (m *metrics) reloaded(at time.Time, ok bool) {
	m.lastReload.Set(float64(at.UnixNano()) / 1e9)
	if ok {
		m.reloads.WithLabelValues("accepted").Inc()
		m.lastReloadOK.Set(1)
	} else {
		m.reloads.WithLabelValues("rejected").Inc()
		m.lastReloadOK.Set(0)
	}
}

// flushed records a connection table sent to the peer.
func (m *metrics) flushed(n int, err error) {
	if err != nil {
		m.handoverErrors.Inc()
		return
	}
	m.handoverTables.Inc()
	m.handoverConns.Add(float64(n))
}

// swept records a sweep of closed connections (sweep.go); one that
// found this node had taken the VIPs is not counted.
func (m *metrics) swept(n int, err error) {
	switch {
	case errors.Is(err, connsync.ErrNotBackup):
	case err != nil:
		m.sweeps.WithLabelValues("failed").Inc()
	default:
		m.sweeps.WithLabelValues("ok").Inc()
		m.sweptConns.Add(float64(n))
	}
}

// labelsFor returns the label sets of cur, rendering them on the first
// scrape after a reload.
func (m *metrics) labelsFor(cur *Loaded) *labelSet {
	if l := m.labels.Load(); l != nil && l.of == cur {
		return l
	}
	l := newLabelSet(cur, m.health)
	m.labels.Store(l)
	return l
}

// writeBulk writes the families that grow with the farm: health per
// realserver and per service, the engine's drain and weights, and the
// kernel's counters (where the table has them). Each source is read once,
// under its own lock, before any line is written; the lines follow the
// configuration's order.
func (d *Director) writeBulk(t *web.Text) {
	if !d.serving.Load() {
		return
	}
	l := d.metrics.labelsFor(d.Current())
	b := d.metrics.takeBulk()
	defer b.mu.Unlock()
	n := len(l.reals)
	b.health = zeroed(b.health, n)
	health := b.health
	d.health.HealthRows(func(rows []healthcheck.Pair, states []healthcheck.RealState) { l.align(health, rows, states) })
	l.health.Write(t, health)
	if cap(b.values) < n {
		b.values = make([]float64, n)
	}
	d.writeWeights(t, l, health, d.drains.snapshot(), b.values[:n])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := d.metrics.counters.rowsFor(ctx, time.Now(), l, d.dir.Counters, &b.counters)
	if err != nil {
		d.log.WithError(err).Warn("metrics: ipvs counters not read")
	}
	if rows != nil {
		b.values = ipvs.WriteCounters(t, rows, b.values)
	}
}

// writeWeights writes, per configured realserver, whether the operator
// drained it, its configured weight, and the weight lvsd gives it in the
// kernel (as ipvs.Want decides: 0 when drained or down; before the
// health runner tracks it, its check's initial state decides).
func (d *Director) writeWeights(t *web.Text, l *labelSet, health []healthcheck.RealState, drained map[realKey]bool, values []float64) {
	column := func(name, help string, v func(r *realRow, h *healthcheck.RealState, drained bool) int) {
		t.Family(name, help, "gauge")
		for i := range l.reals {
			r := &l.reals[i]
			values[i] = float64(v(r, &health[i], len(drained) > 0 && drained[realKey{r.service, r.addr}]))
		}
		t.Column(name, l.realLabels, values)
	}
	column("lvsd_real_drained", "1 while the operator has drained the realserver (lvsd drain), else 0.",
		func(_ *realRow, _ *healthcheck.RealState, drained bool) int { return int(b2f(drained)) })
	column("lvsd_real_weight", "The realserver's configured weight.",
		func(r *realRow, _ *healthcheck.RealState, _ bool) int { return r.weight })
	column("lvsd_real_effective_weight", "The weight lvsd gives the realserver in the kernel: the configured one, 0 while drained or down.",
		func(r *realRow, h *healthcheck.RealState, drained bool) int {
			up := r.initialUp
			if h.Tracked {
				up = h.Up
			}
			if !up || drained {
				return 0
			}
			return r.weight
		})
}

// snapshot copies the drained realservers, once per scrape rather than a
// lock per realserver and family.
func (d *drains) snapshot() map[realKey]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[realKey]bool{}
	for s, reals := range d.set {
		for _, r := range reals {
			out[realKey{s, r}] = true
		}
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
