package web

import (
	"bufio"
	"net/http"

	"github.com/prometheus/common/expfmt"
)

// metrics serves the text exposition format (0.0.4), which every
// Prometheus reads: the Gatherer's families, then the bulk writers'. It
// is not compressed: on the links a scraper uses, a gzip of the 15 MB
// that 10,000 realservers make would cost more CPU than the scrape.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	w.Header().Set("Content-Type", string(format))
	bw := bufio.NewWriterSize(w, 64<<10)
	mfs, err := s.opts.Gatherer.Gather()
	if err != nil {
		// Gather returns what it could; a broken collector must not
		// blank the whole page during an incident.
		s.opts.Log.WithError(err).Warn("metrics: gather")
	}
	enc := expfmt.NewEncoder(bw, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			s.opts.Log.WithError(err).Debug("metrics: write")
			return
		}
	}
	t := newText(bw)
	for _, write := range s.opts.Bulk {
		write(t)
	}
	if err := bw.Flush(); err != nil {
		s.opts.Log.WithError(err).Debug("metrics: write")
	}
}
