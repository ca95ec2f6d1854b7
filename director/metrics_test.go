package director

import (
	"compress/gzip"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
	stable := func(s string) string { // the runtime's families change between two scrapes
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(l, "go_") && !strings.HasPrefix(l, "process_") {
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
