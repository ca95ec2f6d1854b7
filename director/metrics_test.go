package director

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/healthcheck"
)

// The gzipped exposition of a checked farm (latencies, failures by
// reason, duration histograms, IPVS counters) reads as the plain one.
func TestMetricsGzipMatchesPlain(t *testing.T) {
	d, _ := runFarm(t, farm(t, 40, 7, freeAddr(t)))
	due := time.Unix(1000, 0)
	i := 0
	for _, s := range d.Current().Config.Services {
		for _, r := range s.Reals {
			i++
			res := healthcheck.Result{Service: s.Name, Real: r.Addr, Due: due, Done: due.Add(time.Duration(i%50) * time.Millisecond)}
			if i%7 == 0 {
				res.Err = errors.New("refused")
			}
			if i%3 != 0 { // some realservers never checked
				d.metrics.health.Observe(res)
			}
		}
	}
	// The runtime's families change between two scrapes, and so do the
	// reconciler's when a reconcile (the one that follows start-up, or a
	// periodic one) falls between them.
	changing := []string{"go_", "process_", "lvsd_ipvs_reconcile", "lvsd_ipvs_last_reconcile", "lvsd_ipvs_operations",
		"lvsd_ipvs_decision", "lvsd_ipvs_drift", "lvsd_ipvs_services "}
	stable := func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if !slices.ContainsFunc(changing, func(p string) bool { return strings.HasPrefix(l, p) }) {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	plain := scrape(t, d)
	for _, want := range []string{`lvsd_check_duration_seconds_bucket{service="svc0001",`, `lvsd_real_check_failures_total{`,
		`lvsd_ipvs_real_bytes_out_total{`, `lvsd_real_check_latency_seconds{`} {
		if !strings.Contains(plain, want) {
			t.Fatalf("exposition lacks %s", want)
		}
	}
	for range 2 { // the second with the compressor's chains cached
		rec := httptest.NewRecorder()
		d.web.Handler().ServeHTTP(rec, prometheusRequest("/metrics"))
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if stable(string(got)) != stable(plain) {
			t.Fatalf("gzipped exposition differs from the plain one (%d bytes, want %d)", len(got), len(plain))
		}
	}
}

// The configuration's hash is stable for one configuration (loaded twice,
// from the same files) and changes when any part of it does: the main
// file, a service, one realserver's check.
func TestConfigHashFollowsTheConfiguration(t *testing.T) {
	main := farm(t, 3, 2, freeAddr(t))
	load := func() uint64 {
		t.Helper()
		cfg, err := config.Load(main, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		return configHash(cfg)
	}
	first := load()
	if again := load(); again != first || first == 0 || first>>48 != 0 {
		t.Fatalf("hash of one configuration: %#x then %#x, want equal, non-zero, 48 bits", first, again)
	}
	seen := map[uint64]string{first: "the first"}
	svc := filepath.Join(filepath.Dir(main), "services.d", "svc0002.yaml")
	for _, edit := range []struct{ file, old, new string }{
		{main, "node: bench", "node: bench2"},
		{svc, "virtual: 192.0.2.3:1002", "virtual: 192.0.2.3:1003"},
		{svc, "  - address: 198.51.100.2:8080", "  - address: 198.51.100.2:8080\n    check: {type: on}"},
	} {
		body, err := os.ReadFile(edit.file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), edit.old) {
			t.Fatalf("%s lacks %q", edit.file, edit.old)
		}
		if err := os.WriteFile(edit.file, []byte(strings.Replace(string(body), edit.old, edit.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		h := load()
		if prev, dup := seen[h]; dup {
			t.Errorf("after %q: hash %#x, the same as %s", edit.new, h, prev)
		}
		seen[h] = edit.new
	}
}

// Reloads that replace realservers leave the health metrics the size of
// the configuration in service, and /metrics lists only its realservers
// and services: the removed ones' series disappear, as Prometheus
// expects of a target that went.
func TestReloadsDropRemovedRealserversFromMetrics(t *testing.T) {
	main := farm(t, 2, 3, freeAddr(t))
	d, _ := runFarm(t, main)
	svcDir := filepath.Join(filepath.Dir(main), "services.d")
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	for gen := range 5 {
		for _, s := range d.Current().Config.Services {
			for _, r := range s.Reals {
				d.metrics.health.Observe(healthcheck.Result{Service: s.Name, Real: r.Addr, Due: time.Unix(1000, 0), Done: time.Unix(1000, 1e6)})
			}
		}
		// Each generation: svc0001's realservers on a new port, svc0000
		// kept, and a service that replaces the last one.
		body := fmt.Sprintf("name: svc0001\nvirtual: 192.0.2.2:1001\nforward: nat\ncheck: {type: none}\nreals:\n  - address: 198.51.100.1:%d\n  - address: 198.51.100.2:%d\n", 9000+gen, 9000+gen)
		if err := os.WriteFile(filepath.Join(svcDir, "svc0001.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(svcDir, fmt.Sprintf("extra%d.yaml", gen-1)))
		extra := fmt.Sprintf("name: extra%d\nvirtual: 192.0.2.9:%d\nforward: nat\ncheck: {type: none}\nreals:\n  - address: 198.51.100.9:80\n", gen, 2000+gen)
		if err := os.WriteFile(filepath.Join(svcDir, fmt.Sprintf("extra%d.yaml", gen)), []byte(extra), 0o644); err != nil {
			t.Fatal(err)
		}
		if res, err := d.Reload(ctx); err != nil || !res.OK {
			t.Fatalf("reload %d: %+v %v", gen, res, err)
		}
	}
	if reals, svcs := d.metrics.health.Len(); reals != 3+2+1 || svcs != 3 {
		t.Errorf("after 5 reloads the health metrics count %d realservers and %d services, want those of the configuration: 6 and 3", reals, svcs)
	}
	out := scrape(t, d)
	for _, gone := range []string{`remote_port="9003"`, `service="extra3"`, `local_port="1001",proto="TCP",local_mark="",remote_address="198.51.100.3"`} {
		if strings.Contains(out, gone) {
			t.Errorf("exposition lists a removed realserver or service: %s", gone)
		}
	}
	for _, kept := range []string{`lvsd_check_duration_seconds_count{service="svc0000"`, `service="extra4"`, `remote_port="9004"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("exposition lacks %s", kept)
		}
	}
}
