// Package web serves lvsd's read side over HTTP: the status page at /,
// the same snapshot as JSON at /status.json and Prometheus metrics at
// /metrics. It only reads: every action stays on the control socket.
//
// It knows nothing of the engine: the engine hands it a snapshot function
// (api.Status, the one source of truth for the page, the JSON and
// `lvsd status`), a client_golang Gatherer and the writers of the
// families that grow with the farm (see Text).
package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/api"
)

// Options configure a Server.
type Options struct {
	// Status returns the snapshot the page and /status.json show.
	Status func(context.Context) api.Status
	// Gatherer holds the families that do not grow with the farm.
	Gatherer prometheus.Gatherer
	// Bulk writes the families that do, after the Gatherer's.
	Bulk []func(*Text)
	// Refresh is how often the page reloads itself; 0 means 5 s.
	Refresh time.Duration
	Log     *logrus.Entry
}

// Server listens on a set of addresses, which Listen changes.
type Server struct {
	opts    Options
	handler http.Handler
	chains  *chains  // of the bulk writers' label sets, for the compressor
	codes   *codes   // the bulk writers' families' code at the last scrape
	scratch *scratch // the scrapes' buffers, kept from one to the next

	mu sync.Mutex
	ls map[string]*listener // by the address as configured
}

type listener struct {
	ln  net.Listener
	srv *http.Server
}

// New returns a Server that listens nowhere yet.
func New(o Options) *Server {
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = logrus.NewEntry(logrus.New())
	}
	if o.Gatherer == nil {
		o.Gatherer = prometheus.NewRegistry()
	}
	s := &Server{opts: o, ls: map[string]*listener{}, chains: &chains{}, codes: &codes{}, scratch: newScratch()}
	s.handler = s.routes()
	return s
}

// Handler returns the server's handler, for tests and benchmarks.
func (s *Server) Handler() http.Handler { return s.handler }

// Listen makes addrs the set of addresses served. An address served
// already keeps its socket; the new ones are bound before anything is
// closed, and if one fails none of them is kept and the set in service
// stays as it was: a reload with a bad address is rejected, never
// half-applied, and a daemon never starts without the page it was told
// to serve.
func (s *Server) Listen(addrs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := map[string]net.Listener{}
	var errs []error
	for _, a := range addrs {
		if _, ok := s.ls[a]; ok {
			continue
		}
		if _, dup := fresh[a]; dup {
			continue
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			errs = append(errs, fmt.Errorf("http.listen %s: %w", a, err))
			continue
		}
		fresh[a] = ln
	}
	if len(errs) > 0 {
		for _, ln := range fresh {
			ln.Close()
		}
		return errors.Join(errs...)
	}
	for a, l := range s.ls {
		if !slices.Contains(addrs, a) {
			l.srv.Close()
			delete(s.ls, a)
			s.opts.Log.WithField("addr", a).Info("status page: stopped listening")
		}
	}
	for a, ln := range fresh {
		srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
		s.ls[a] = &listener{ln: ln, srv: srv}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.opts.Log.WithError(err).WithField("addr", a).Error("status page stopped serving")
			}
		}()
		s.opts.Log.WithField("addr", ln.Addr().String()).Info("status page and /metrics listening")
	}
	return nil
}

// Addrs returns the addresses served, as bound (a port 0 resolved).
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.ls))
	for _, l := range s.ls {
		out = append(out, l.ln.Addr().String())
	}
	slices.Sort(out)
	return out
}

// Close stops serving everywhere.
func (s *Server) Close() error {
	return s.Listen(nil)
}

// routes serves the three read-only endpoints; anything but GET and HEAD
// is refused.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /status.json", s.json)
	mux.HandleFunc("GET /metrics", s.metrics)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read only: actions are on the control socket (lvsd drain, switchover, reload)", http.StatusMethodNotAllowed)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// snapshot bounds the status call by the request's context.
func (s *Server) snapshot(r *http.Request) api.Status {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	return s.opts.Status(ctx)
}
