package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sample returns the value of the series of family name whose labels
// include want (name=value pairs), and whether there is one.
func sample(t *testing.T, g prometheus.Gatherer, name string, want ...string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(want); i += 2 {
				if labels[want[i]] != want[i+1] {
					continue next
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return 0
}

func TestMetricsFollowTheNode(t *testing.T) {
	h := newHarness(t, nodeConfig())
	m := NewMetrics(func() []*Node { return []*Node{h.n} })
	m.now = h.clk.Now
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	get := func(name string, labels ...string) float64 {
		t.Helper()
		v, ok := sample(t, reg, "lvsd_vrrp_"+name, append([]string{"vrrp_instance", "web", "interface", "eth0", "vrid", "7"}, labels...)...)
		if !ok {
			t.Fatalf("no series lvsd_vrrp_%s %v", name, labels)
		}
		return v
	}
	h.run()
	if got := get("state"); got != 1 {
		t.Errorf("state after start %v, want 1 (BACKUP)", got)
	}
	if _, ok := sample(t, reg, "lvsd_vrrp_master_advert_age_seconds"); ok {
		t.Error("advert age exported before any master is known")
	}
	for range 3 {
		h.recvAdvert(200, peerHigh)
		h.advance(100 * time.Millisecond)
	}
	if got := get("adverts_received_total"); got != 3 {
		t.Errorf("received %v, want 3", got)
	}
	if got := get("master_advert_age_seconds"); got < 0.099 || got > 0.101 {
		t.Errorf("advert age %v, want 0.1 (the peer's last advert, 100ms ago)", got)
	}
	// The master goes silent: we take over.
	h.advance(mdi100)
	if got := get("state"); got != 2 {
		t.Errorf("state after takeover %v, want 2 (MASTER)", got)
	}
	if got := get("transitions_to_master_total"); got != 1 {
		t.Errorf("to master %v, want 1", got)
	}
	if got := get("adverts_sent_total"); got < 1 {
		t.Errorf("sent %v, want at least the takeover advert", got)
	}
	if got := get("gratuitous_announces_sent_total"); got < 1 {
		t.Errorf("announces %v, want at least 1", got)
	}
	// A higher-priority master comes back: we step down.
	h.recvAdvert(200, peerHigh)
	if got := get("state"); got != 1 {
		t.Errorf("state after the peer returned %v, want 1", got)
	}
	if got := get("transitions_from_master_total"); got != 1 {
		t.Errorf("from master %v, want 1", got)
	}
	// A packet for another VRID is dropped and counted by reason; every
	// reason has a series from the start.
	if got := get("adverts_dropped_total", "reason", "checksum"); got != 0 {
		t.Errorf("checksum drops %v, want 0", got)
	}
	bad := h.packet(Advert{Version: 3, Type: TypeAdvertisement, VRID: 99, Priority: 200,
		Interval: 100 * time.Millisecond, Addrs: []netip.Addr{vip1.Addr()}}, peerHigh, MulticastIPv4)
	h.conn.in <- bad
	h.recvAdvert(200, peerHigh) // read after the bad one: its drop is counted by then
	if got := get("adverts_dropped_total", "reason", "vrid"); got != 1 {
		t.Errorf("vrid drops %v, want 1", got)
	}
	// The state is never a label.
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, l := range mf.GetMetric()[0].GetLabel() {
			if strings.Contains(l.GetName(), "state") {
				t.Errorf("%s has a state label", mf.GetName())
			}
		}
	}
}
