package ipvs

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsd/lvsd/director/config"
)

// gathered returns every series of reg as "name{labels}" -> value, for
// counters and gauges, and name_count for histograms.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += fmt.Sprintf("%s=%q", l.GetName(), l.GetValue())
			}
			switch {
			case m.Counter != nil:
				out[mf.GetName()+"{"+labels+"}"] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[mf.GetName()+"{"+labels+"}"] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[mf.GetName()+"_count{"+labels+"}"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestMetricsCountReconciles(t *testing.T) {
	f := NewMemory()
	m := NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	d := New(f, Options{OwnedPath: filepath.Join(t.TempDir(), "owned.json"), Log: quiet(), Metrics: m,
		Clock: clockwork.NewFakeClock()})
	d.Update([]config.Service{web}, AllUp)
	d.reconcile(false)
	// Drift: someone deletes a realserver behind lvsd's back.
	f.Edit(func(t Table) { delete(t[KeyOf(web)].Dests, web.Reals[1].Addr) })
	d.reconcile(true)
	// And a periodic run with nothing to repair.
	d.reconcile(true)
	got := gathered(t, reg)
	want := map[string]float64{
		`lvsd_ipvs_reconciles_total{trigger="change"}`:   1,
		`lvsd_ipvs_reconciles_total{trigger="periodic"}`: 2,
		`lvsd_ipvs_operations_total{op="add-service"}`:   1,
		`lvsd_ipvs_operations_total{op="add-dest"}`:      3, // two reals, then the repair
		`lvsd_ipvs_operations_total{op="del-service"}`:   0,
		`lvsd_ipvs_drift_repairs_total{}`:                1,
		`lvsd_ipvs_reconcile_errors_total{}`:             0,
		`lvsd_ipvs_reconcile_duration_seconds_count{}`:   3,
		`lvsd_ipvs_decision_to_kernel_seconds_count{}`:   1, // only the Update had a decision
		`lvsd_ipvs_services{}`:                           1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

type lines map[string]float64

func (l lines) Family(string, string, string) {}
func (l lines) Sample(name, labels, extra string, v float64) {
	l[name+"{"+labels+extra+"}"] = v
}
func (l lines) Column(name string, labels []string, values []float64) {
	for i, v := range values {
		if !math.IsNaN(v) {
			l.Sample(name, labels[i], "", v)
		}
	}
}

func TestWriteCounters(t *testing.T) {
	rs := web.Reals[0].Addr
	c := Counters{Connections: 7, InPackets: 70, OutPackets: 60, InBytes: 7000, OutBytes: 9000,
		Dests: []DestCount{
			{rs, DestCounters{Active: 2, Inactive: 3, Total: 5, InPackets: 50, OutPackets: 40, InBytes: 5000, OutBytes: 6000}},
			{web.Reals[1].Addr, DestCounters{Active: 1, Total: 2}},
		}}
	c.sortDests()
	rsCounters, _ := c.Dest(rs)
	svc := fmt.Sprintf("vs=%q", KeyOf(web))
	dst := fmt.Sprintf("vs=%q,rs=%q", KeyOf(web), rs)
	rows := &CounterRows{
		ServiceLabels: []string{svc, "vs=absent"}, Services: []ServiceRow{NewServiceRow(c), {}},
		DestLabels: []string{dst, "rs=absent"}, Dests: []DestRow{{OK: true, C: rsCounters}, {}},
		Extra: []ExtraDest{{Labels: "rs=extra", C: DestCounters{Total: 9}}},
	}
	// A scratch too small, then the one it returned, holding the last
	// scrape's values, then one bigger than the rows.
	scratch := WriteCounters(lines{}, rows, make([]float64, 1))
	if len(scratch) < 2 {
		t.Fatalf("scratch of %d values returned for 2 rows", len(scratch))
	}
	scratch = WriteCounters(lines{}, rows, scratch)
	l := lines{}
	WriteCounters(l, rows, append(scratch, 5, 5, 5))
	want := map[string]float64{
		"lvsd_ipvs_service_connections_active{" + svc + "}":   3,
		"lvsd_ipvs_service_connections_inactive{" + svc + "}": 3,
		"lvsd_ipvs_service_connections_total{" + svc + "}":    7,
		"lvsd_ipvs_service_bytes_out_total{" + svc + "}":      9000,
		"lvsd_ipvs_real_connections_total{" + dst + "}":       5,
		"lvsd_ipvs_real_packets_in_total{" + dst + "}":        50,
		"lvsd_ipvs_real_bytes_out_total{" + dst + "}":         6000,
		"lvsd_ipvs_real_connections_total{rs=extra}":          9,
	}
	for k, v := range want {
		if g, ok := l[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if len(l) != 7+5+5 {
		t.Errorf("%d series, want 17 (none absent): %v", len(l), l)
	}
}
