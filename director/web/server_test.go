package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lvsd/lvsd/director/api"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// sampleStatus is a pair member with one service of three realservers in
// different states.
func sampleStatus() api.Status {
	web := "TCP 192.0.2.10:80"
	rs := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	return api.Status{
		Node: "a", Version: "test", Generation: 2, StartedAt: t0, LoadedAt: t0,
		VRRP: []api.Instance{{Name: "front", Interface: "e0", VRID: 51, State: api.StateMaster, Priority: 150,
			Master: netip.MustParseAddr("192.0.2.1"), Since: t0, LastAdvert: t0.Add(-time.Second),
			PeerAddr: netip.MustParseAddr("192.0.2.2")}},
		Health: []api.Real{
			{Service: "web", Real: rs("198.51.100.11:80"), Target: rs("198.51.100.11:80"), Virtual: web, Type: "http",
				State: api.HealthUp, Up: true, Weight: 100, Rise: 2, Fall: 3, LastCheck: t0, LastLatency: 3 * time.Millisecond},
			{Service: "web", Real: rs("198.51.100.12:80"), Target: rs("198.51.100.12:80"), Virtual: web, Type: "http",
				State: api.HealthDown, Weight: 100, Rise: 2, Fall: 3, Failures: 4, LastCheck: t0,
				LastReason: "status", LastDetail: "http status 503, want [200]"},
			{Service: "web", Real: rs("198.51.100.13:80"), Target: rs("198.51.100.13:80"), Virtual: web, Type: "http",
				State: api.HealthDrained, Up: true, Drained: true, Weight: 50, Rise: 2, Fall: 3},
		},
		IPVS: api.IPVSStatus{Services: []api.ServiceStatus{{Key: web, Name: "web", Scheduler: "wlc", Reals: []api.RealStatus{
			{Addr: "198.51.100.11:80", Weight: 100, Active: 7, Inactive: 2, CPS: 12},
			{Addr: "198.51.100.13:80", Weight: 0, Active: 1},
		}}}},
		LastReload: &api.ReloadResult{At: t0, OK: false, Generation: 2, Errors: []string{"services.d/web.yaml:4: weight \"ten\": not a number"}},
		Warnings:   []string{"kernel setting missing: net.ipv4.ip_forward"},
	}
}

func newTestServer(t *testing.T) *Server {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_small_total", Help: "A registry family."})
	c.Add(3)
	reg.MustRegister(c)
	return New(Options{
		Status:   func(context.Context) api.Status { return sampleStatus() },
		Gatherer: reg,
		Bulk: []func(*Text){func(t *Text) {
			t.Family("test_bulk", "A bulk family.", "gauge")
			t.Sample("test_bulk", Labels("service", `we"b`, "remote_address", "198.51.100.11"), `reason="x"`, 0.25)
		}},
	})
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestMetricsJoinRegistryAndBulk(t *testing.T) {
	rec := get(t, newTestServer(t).Handler(), "GET", "/metrics")
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	if v := mfs["test_small_total"].GetMetric()[0].GetCounter().GetValue(); v != 3 {
		t.Errorf("registry family value %v, want 3", v)
	}
	bulk := mfs["test_bulk"]
	if bulk == nil || len(bulk.GetMetric()) != 1 {
		t.Fatalf("bulk family missing: %v", mfs)
	}
	labels := map[string]string{}
	for _, l := range bulk.GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["service"] != `we"b` || labels["reason"] != "x" || bulk.GetMetric()[0].GetGauge().GetValue() != 0.25 {
		t.Errorf("bulk series %v = %v", labels, bulk.GetMetric()[0].GetGauge().GetValue())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type %q", ct)
	}
}

// TestMetricsGzip checks that a client that asks for gzip, as Prometheus
// does, gets the same exposition compressed, and one that does not gets
// it plain.
func TestMetricsGzip(t *testing.T) {
	h := newTestServer(t).Handler()
	plain := get(t, h, "GET", "/metrics")
	if enc := plain.Header().Get("Content-Encoding"); enc != "" {
		t.Errorf("no Accept-Encoding: Content-Encoding %q", enc)
	}
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if enc := rec.Header().Get("Content-Encoding"); enc != "gzip" {
		t.Fatalf("Accept-Encoding gzip: Content-Encoding %q", enc)
	}
	got := gunzip(t, rec.Body.Bytes())
	// The registry's process figures differ between two scrapes: compare
	// the bulk part.
	cut := func(b []byte) string { _, after, _ := strings.Cut(string(b), "# HELP test_bulk"); return after }
	if cut(got) == "" || cut(got) != cut(plain.Body.Bytes()) {
		t.Errorf("gzipped exposition differs from the plain one:\n%s\n---\n%s", got, plain.Body.String())
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "identity": false, "deflate, gzip;q=0.5": true, "GZIP": true,
		"gzip;q=0": false, "gzip; q=0.0, identity": false, "*": true, "x-gzip": true, "br, zstd": false,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", h, got, want)
		}
	}
}

func TestReadOnly(t *testing.T) {
	h := newTestServer(t).Handler()
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		if rec := get(t, h, m, "/"); rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s /: %d, want 405", m, rec.Code)
		}
	}
	if rec := get(t, h, "GET", "/drain"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /drain: %d, want 404", rec.Code)
	}
}

func TestStatusJSON(t *testing.T) {
	rec := get(t, newTestServer(t).Handler(), "GET", "/status.json")
	var st api.Status
	if err := json.NewDecoder(rec.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Node != "a" || len(st.Health) != 3 || st.VRRP[0].State != api.StateMaster || st.Health[2].Drained != true {
		t.Errorf("decoded %+v", st)
	}
}

func TestPageShowsThePairAndEveryRealserver(t *testing.T) {
	rec := get(t, newTestServer(t).Handler(), "GET", "/")
	body := rec.Body.String()
	if rec.Header().Get("Refresh") == "" || !strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("the page does not refresh itself")
	}
	for _, want := range []string{
		`data-instance="front" data-state="MASTER"`,
		`data-real="198.51.100.11:80" data-state="up"`,
		`data-real="198.51.100.12:80" data-state="down"`,
		`data-real="198.51.100.13:80" data-state="drained"`,
		"http status 503, want [200]", "4 failed", "REJECTED", `weight &#34;ten&#34;: not a number`,
		"net.ipv4.ip_forward", "3.0ms", "1/3 up", "from 192.0.2.2",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Nothing loads from elsewhere: no script, no external link or asset.
	for _, bad := range []string{"<script", "src=", `href="http`, "url("} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

// TestPageSumsUpALargeFarm checks that above collapseAbove realservers
// the page lists every service and the realservers not in service, and
// counts the others; ?reals=all lists them all.
func TestPageSumsUpALargeFarm(t *testing.T) {
	st := sampleStatus()
	base := st.Health[0]
	for i := range collapseAbove {
		r := base
		r.Service = fmt.Sprintf("big%03d", i/10)
		r.Real = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 101, byte(i % 10)}), uint16(8000+i/10))
		st.Health = append(st.Health, r)
	}
	var buf bytes.Buffer
	if err := Render(&buf, st, t0, false); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		`id="collapsed"`, `data-service="big000"`, `data-service="big019"`, `data-service="web"`,
		`data-real="198.51.100.12:80" data-state="down"`, `data-real="198.51.100.13:80" data-state="drained"`,
		`data-service="web" data-hidden="1"`, `data-service="big007" data-hidden="10"`, "10/10 up", `href="?reals=all`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("collapsed page lacks %q", want)
		}
	}
	if strings.Contains(page, `data-real="198.51.100.11:80"`) || strings.Contains(page, `data-real="198.51.101.3:8003"`) {
		t.Error("collapsed page lists a realserver in service")
	}
	buf.Reset()
	if err := Render(&buf, st, t0, true); err != nil {
		t.Fatal(err)
	}
	all := buf.String()
	for _, want := range []string{`data-real="198.51.100.11:80" data-state="up"`, `data-real="198.51.101.3:8003"`} {
		if !strings.Contains(all, want) {
			t.Errorf("?reals=all page lacks %q", want)
		}
	}
	if strings.Contains(all, `id="collapsed"`) || strings.Contains(all, "data-hidden") {
		t.Error("?reals=all page sums up")
	}
	if rec := get(t, newTestServer(t).Handler(), "GET", "/?reals=all"); rec.Code != 200 {
		t.Errorf("GET /?reals=all: %d", rec.Code)
	}
}

func TestListenKeepsTheOldSetWhenABindFails(t *testing.T) {
	s := newTestServer(t)
	defer s.Close()
	if err := s.Listen([]string{"127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	first := s.Addrs()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	err = s.Listen([]string{"127.0.0.1:0", "[::1]:0", taken.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("bind of a taken address: %v, want an error naming it", err)
	}
	if got := s.Addrs(); len(got) != 1 || got[0] != first[0] {
		t.Fatalf("after a failed Listen: %v, want %v kept", got, first)
	}
	resp, err := http.Get("http://" + first[0] + "/metrics")
	if err != nil {
		t.Fatalf("old address no longer serves: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte("test_small_total 3")) {
		t.Errorf("old address serves %q", b)
	}
	// A new set without the old address closes it.
	if err := s.Listen(nil); err != nil || len(s.Addrs()) != 0 {
		t.Fatalf("Listen(nil): %v, %v", err, s.Addrs())
	}
	if _, err := http.Get("http://" + first[0] + "/metrics"); err == nil {
		t.Error("closed address still serves")
	}
}

func TestAppendValue(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", math.Copysign(0, -1): "0", 1: "1", 9: "9", 10: "10", 0.25: "0.25", 1.7e9: "1700000000", 1e20: "1e+20",
		-3: "-3", 999999999999999: "999999999999999", 1e15: "1e+15", 1.5e15: "1.5e+15",
		math.Inf(1): "+Inf", math.Inf(-1): "-Inf", math.NaN(): "NaN", 1762000000.25: "1.76200000025e+09"} {
		if got := string(appendValue(nil, v)); got != want {
			t.Errorf("%v: %q, want %q", v, got, want)
		}
	}
}

// TestAppendValueAsStrconv: appendValue's decimal path writes what
// strconv's shortest 'g' writes for fractions, for nanosecond values (latencies, sums of seconds)
// and for others in and around the range of its decimal path.
func TestAppendValueAsStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 8))
	values := []float64{1e-4, 0.0001000001, 0.00009999, 999999.999999999, 1e6, 0.1 + 0.2, 1.0 / 3, 0.002013457, 12.5, 0.000123}
	for range 200000 {
		ns := rng.Int64N(int64(2e15))
		values = append(values, float64(ns)/1e9, float64(rng.Int64N(int64(1e9)))/1e9, rng.Float64()*1e6, rng.Float64()/1000, math.Nextafter(float64(ns)/1e9, 2e6))
	}
	for _, v := range values {
		if v == math.Trunc(v) {
			continue // whole numbers are written without an exponent (TestAppendValue)
		}
		want := strconv.FormatFloat(v, 'g', -1, 64)
		if got := string(appendValue(nil, v)); got != want {
			t.Fatalf("%v: %q, want %q (strconv)", v, got, want)
		}
	}
}
