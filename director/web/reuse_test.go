package web

import (
	"context"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lvsd/lvsd/director/api"
)

func TestCRC32Combine(t *testing.T) {
	b := make([]byte, 70000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	want := crc32.ChecksumIEEE(b)
	for _, cut := range []int{0, 1, 7, 64, 1000, 65536, 69999, 70000} {
		if got := crc32Combine(crc32.ChecksumIEEE(b[:cut]), crc32.ChecksumIEEE(b[cut:]), len(b)-cut); got != want {
			t.Errorf("cut at %d: combined %08x, want %08x", cut, got, want)
		}
	}
}

// changingServer serves families of which some change from one scrape
// to the next (by the scrape's number, *n) and some do not: every value,
// one value, left-out rows, the line before a family, a family that is
// absent for a few scrapes, and a histogram's rows.
func changingServer(n *int) *Server {
	labels := make([]string, 300)
	for i := range labels {
		labels[i] = Labels("service", fmt.Sprintf("svc%d", i/10), "remote_address", fmt.Sprintf("198.51.100.%d", i%250))
	}
	svcs := make([]string, 30)
	for i := range svcs {
		svcs[i] = Labels("service", fmt.Sprintf("svc%d", i))
	}
	column := func(t *Text, name string, v func(i int) float64) {
		t.Family(name, "A column.", "gauge")
		values := make([]float64, len(labels))
		for i := range values {
			values[i] = v(i)
		}
		t.Column(name, labels, values)
	}
	return New(Options{
		Status: func(context.Context) api.Status { return api.Status{} },
		Bulk: []func(*Text){func(t *Text) {
			s := *n
			column(t, "still", func(i int) float64 { return float64(i % 3) })
			column(t, "every_value", func(i int) float64 { return float64(i * s * 37) })
			column(t, "one_value", func(i int) float64 {
				if i == 150 {
					return float64(s)
				}
				return 1
			})
			column(t, "left_out", func(i int) float64 {
				if (i+s)%7 == 0 {
					return math.NaN()
				}
				return 2
			})
			if s < 2 || s > 4 {
				column(t, "absent_a_while", func(i int) float64 { return 5 })
			}
			// The same values after a line that changes: the family's
			// first line is coded from it.
			t.Family("after", "A column after a line that changes.", "gauge")
			t.Sample("after", `service="svc0",x="`+strings.Repeat("y", s)+`"`, "", float64(s))
			t.Column("after", labels, make([]float64, len(labels)))
			t.Family("h_seconds", "Rows.", "histogram")
			names := []string{"h_seconds_bucket", "h_seconds_bucket", "h_seconds_sum", "h_seconds_count"}
			extras := []string{`le="0.5"`, `le="+Inf"`, "", ""}
			cols := make([][]float64, len(names))
			for k := range cols {
				cols[k] = make([]float64, len(svcs))
				for i := range cols[k] {
					cols[k][i] = float64(i * k * (s / 3))
				}
			}
			t.Rows(svcs, names, extras, cols)
		}},
	})
}

func gzipScrape(t *testing.T, h http.Handler) string {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return string(gunzip(t, rec.Body.Bytes()))
}

// TestReusedCodeFollowsValues scrapes with gzip as the values change,
// and compares each exposition with the plain one of the same values.
func TestReusedCodeFollowsValues(t *testing.T) {
	var n int
	s := changingServer(&n)
	h := s.Handler()
	for n = range 8 {
		plain := get(t, h, "GET", "/metrics").Body.String()
		for i := range 2 {
			if got := gzipScrape(t, h); got != plain {
				t.Fatalf("scrape %d, %d: gzipped exposition differs from the plain one:\n%s", n, i, firstDiff(got, plain))
			}
		}
	}
	if len(s.codes.m) == 0 {
		t.Errorf("no family's code kept")
	}
}

// TestReusedCodeConcurrentScrapes has scrapes overlap: one that finds a
// family's entry taken writes the family anew.
func TestReusedCodeConcurrentScrapes(t *testing.T) {
	n := 3
	h := changingServer(&n).Handler()
	plain := get(t, h, "GET", "/metrics").Body.String()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if got := gzipScrape(t, h); got != plain {
					t.Errorf("gzipped exposition differs from the plain one:\n%s", firstDiff(got, plain))
					return
				}
			}
		})
	}
	wg.Wait()
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d: %q, want %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(al), len(bl))
}
