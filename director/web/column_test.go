package web

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsd/lvsd/director/api"
)

// columnServer serves, after a registry family, families written with
// Column over label sets of different lengths, with left-out rows and
// repeated values, large enough to cross chunks.
func columnServer(rows int) (*Server, []string) {
	labels := make([]string, rows)
	for i := range labels {
		labels[i] = Labels("service", fmt.Sprintf("svc%d", i/7), "remote_address", fmt.Sprintf("198.51.%d.%d", i/250, i%250))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "test_small_total", Help: "A registry family."}))
	s := New(Options{
		Status: func(context.Context) api.Status { return api.Status{} }, Gatherer: reg,
		Bulk: []func(*Text){func(t *Text) {
			for f, name := range []string{"a_gauge", "b", "test_values_total"} {
				t.Family(name, "A column.", "gauge")
				values := make([]float64, rows)
				for i := range values {
					switch {
					case i%11 == 3 && f > 0:
						values[i] = math.NaN() // left out
					case f == 1:
						values[i] = 1
					default:
						values[i] = float64(i*f) + 0.5*float64(i%2)
					}
				}
				t.Column(name, labels, values)
				t.Sample(name, `extra="x"`, "", 7) // a line between columns
			}
			// A histogram's rows: buckets, sum and count per label set,
			// some left out, the values growing in length.
			t.Family("h_seconds", "Rows.", "histogram")
			names := []string{"h_seconds_bucket", "h_seconds_bucket", "h_seconds_sum", "h_seconds_count"}
			extras := []string{`le="0.5"`, `le="+Inf"`, "", ""}
			cols := make([][]float64, len(names))
			for k := range cols {
				cols[k] = make([]float64, rows)
				for i := range rows {
					cols[k][i] = float64(i * k * k)
					if i%13 == 5 || (k == 2 && i%17 == 1) {
						cols[k][i] = math.NaN()
					}
				}
			}
			t.Rows(labels, names, extras, cols)
		}},
	})
	return s, labels
}

func TestColumnGzipMatchesPlain(t *testing.T) {
	for _, rows := range []int{0, 1, 2, 50, 3000} {
		s, _ := columnServer(rows)
		h := s.Handler()
		plain := get(t, h, "GET", "/metrics").Body.String()
		if want := fmt.Sprintf("a_gauge{service=\"svc0\",remote_address=\"198.51.0.1\"} 0.5\n"); rows > 1 && !strings.Contains(plain, want) {
			t.Fatalf("plain exposition lacks %q", want)
		}
		if want := "h_seconds_bucket{service=\"svc0\",remote_address=\"198.51.0.2\",le=\"+Inf\"} 2\nh_seconds_sum{service=\"svc0\",remote_address=\"198.51.0.2\"} 8\n"; rows > 2 && !strings.Contains(plain, want) {
			t.Fatalf("plain exposition lacks %q", want)
		}
		if strings.Contains(plain, "NaN") {
			t.Errorf("a left-out row was written")
		}
		for range 2 { // the second scrape uses the cached chain
			req := httptest.NewRequest("GET", "/metrics", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := string(gunzip(t, rec.Body.Bytes()))
			if got != plain {
				t.Fatalf("%d rows: gzipped exposition differs from the plain one (%d bytes, want %d)", rows, len(got), len(plain))
			}
		}
	}
}

func TestChain(t *testing.T) {
	ch := newChain([]string{`a="1",b="xy"`, `a="1",b="xz"`, `a="22",b="xz"`, `c`})
	for i, want := range [][2]uint16{{0, 0}, {10, 1}, {3, 8}, {0, 0}} {
		if got := [2]uint16{ch.cp[i], ch.sfx[i]}; got != want {
			t.Errorf("row %d: prefix, suffix %v, want %v", i, got, want)
		}
	}
}
