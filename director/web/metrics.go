package web

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/common/expfmt"
)

// scratch is what one scrape reuses from the last: the text buffer and
// the compressor's. The server owns one, kept across scrapes: a
// sync.Pool is emptied by the collections between two scrapes a second
// apart, and would hand each one new buffers to grow. A scrape that
// finds it taken (another scrape running) uses one of its own.
type scratch struct {
	mu sync.Mutex
	t  Text
	z  gzipLines
}

func newScratch() *scratch { return &scratch{t: Text{buf: make([]byte, 0, chunk+16<<10)}} }

// takeScratch returns the server's scratch, locked, or a new one when
// another scrape holds it.
func (s *Server) takeScratch() *scratch {
	if s.scratch.mu.TryLock() {
		return s.scratch
	}
	sc := newScratch()
	sc.mu.Lock()
	return sc
}

// metrics serves the text exposition format (0.0.4), which every
// Prometheus reads: the Gatherer's families, then the bulk writers'.
// It is gzipped when the client accepts it, as Prometheus does by
// default, with the line encoder (see gzipLines): 20.7 MB of text at
// 1,000 services x 10 realservers goes out as about 1.1 MB; a family
// whose values did not change since the last scrape sends its lines'
// code again (see codes).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	w.Header().Set("Content-Type", string(format))
	w.Header().Set("Vary", "Accept-Encoding")
	sc := s.takeScratch()
	defer func() {
		sc.t.out, sc.t.z, sc.z.w = nil, nil, nil // keep no reference to the response
		sc.mu.Unlock()
	}()
	t := &sc.t
	t.buf, t.out, t.err, t.enc, t.z, t.chains, t.codes, t.base = t.buf[:0], w, nil, 0, nil, s.chains, s.codes, 0
	gz := acceptsGzip(r.Header.Get("Accept-Encoding"))
	if gz {
		w.Header().Set("Content-Encoding", "gzip")
		sc.z.reset(w)
		t.z = &sc.z
		s.codes.newScrape()
	}
	mfs, err := s.opts.Gatherer.Gather()
	if err != nil {
		// Gather returns what it could; a broken collector must not
		// blank the whole page during an incident.
		s.opts.Log.WithError(err).Warn("metrics: gather")
	}
	enc := expfmt.NewEncoder(t, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			s.opts.Log.WithError(err).Debug("metrics: write")
			return
		}
	}
	for _, write := range s.opts.Bulk {
		write(t)
	}
	err = t.Flush()
	if gz && err == nil {
		err = sc.z.Close()
	}
	if err != nil {
		s.opts.Log.WithError(err).Debug("metrics: write")
	}
}

// acceptsGzip reads an Accept-Encoding header (RFC 9110 12.5.3): gzip or
// x-gzip, or *, with a weight above 0.
func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		if !strings.EqualFold(coding, "gzip") && !strings.EqualFold(coding, "x-gzip") && coding != "*" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				q, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}
