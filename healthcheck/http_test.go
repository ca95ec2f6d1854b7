package healthcheck

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// seen records what an HTTP server received.
type seen struct {
	mu                         sync.Mutex
	method, path, host, remote string
	hits                       map[string]int
}

func (s *seen) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.method, s.path, s.host, s.remote = r.Method, r.URL.Path, r.Host, r.RemoteAddr
	if s.hits == nil {
		s.hits = map[string]int{}
	}
	s.hits[r.URL.Path]++
}

func (s *seen) get() (method, path, host, remote string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.method, s.path, s.host, s.remote
}

// testMux serves /ok (200 "status: UP"), /down (503), /moved (301 to
// /ok) and /slow (waits for the client to go).
func testMux(s *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		switch r.URL.Path {
		case "/", "/ok":
			fmt.Fprint(w, "status: UP\n")
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
		case "/slow":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	})
}

func newHTTPServer(t *testing.T) (*httptest.Server, *seen, netip.AddrPort) {
	s := &seen{}
	srv := httptest.NewServer(testMux(s))
	t.Cleanup(srv.Close)
	return srv, s, addrPort(t, srv.Listener.Addr())
}

func mustHTTP(t *testing.T, c Spec) *HTTP {
	t.Helper()
	if c.Type == "" {
		c.Type = "http"
	}
	h, err := NewHTTP(c)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHTTPStatusAndBody(t *testing.T) {
	_, _, target := newHTTPServer(t)
	tests := []struct {
		name   string
		check  Spec
		reason Reason // "" for healthy
		detail string
	}{
		{"defaults: GET / and 200", Spec{}, "", ""},
		{"status 503", Spec{Path: "/down"}, ReasonStatus, "http status 503, want [200]"},
		{"503 accepted", Spec{Path: "/down", Status: []int{200, 503}}, "", ""},
		{"404", Spec{Path: "/nothing"}, ReasonStatus, "http status 404, want [200]"},
		{"body found", Spec{Path: "/ok", Body: "UP"}, "", ""},
		{"body missing", Spec{Path: "/ok", Body: "GREEN"}, ReasonBody, `body lacks "GREEN"`},
		{"regex matches", Spec{Path: "/ok", BodyRegex: `status:\s+(UP|OK)`}, "", ""},
		{"regex fails", Spec{Path: "/ok", BodyRegex: `^DOWN$`}, ReasonBody, `body does not match "^DOWN$"`},
		{"redirect not followed", Spec{Path: "/moved"}, ReasonStatus, "http status 301, want [200]"},
		{"redirect accepted", Spec{Path: "/moved", Status: []int{301}}, "", ""},
		{"HEAD", Spec{Method: http.MethodHead, Path: "/ok"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mustHTTP(t, tt.check).Check(checkCtx(t, 2*time.Second), target)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("unhealthy: %v", err)
				}
				return
			}
			wantFail(t, err, tt.reason, tt.detail)
		})
	}
}

func TestHTTPRequestShape(t *testing.T) {
	_, s, target := newHTTPServer(t)
	h := mustHTTP(t, Spec{Method: http.MethodOptions, Path: "/ok", Host: "www.example.com"})
	if err := h.Check(checkCtx(t, 2*time.Second), target); err != nil {
		t.Fatal(err)
	}
	if m, p, host, _ := s.get(); m != http.MethodOptions || p != "/ok" || host != "www.example.com" {
		t.Errorf("server saw %s %s Host %s", m, p, host)
	}
	if err := mustHTTP(t, Spec{}).Check(checkCtx(t, 2*time.Second), target); err != nil {
		t.Fatal(err)
	}
	if _, _, host, _ := s.get(); host != target.String() {
		t.Errorf("default Host %q, want the target %q", host, target)
	}
}

func TestHTTPRedirectTargetNeverFetched(t *testing.T) {
	_, s, target := newHTTPServer(t)
	h := mustHTTP(t, Spec{Path: "/moved", Status: []int{200}})
	_ = h.Check(checkCtx(t, 2*time.Second), target)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hits["/ok"] != 0 || s.hits["/moved"] != 1 {
		t.Errorf("hits %v: the redirect was followed", s.hits)
	}
}

func TestHTTPSource(t *testing.T) {
	_, s, target := newHTTPServer(t)
	h := mustHTTP(t, Spec{Source: netip.MustParseAddr("127.0.0.2")})
	if err := h.Check(checkCtx(t, 2*time.Second), target); err != nil {
		t.Skipf("cannot bind 127.0.0.2 here: %v", err)
	}
	if _, _, _, remote := s.get(); netip.MustParseAddrPort(remote).Addr() != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("server saw the check from %s, want 127.0.0.2", remote)
	}
}

func TestHTTPRefusedAndTimeout(t *testing.T) {
	closed := closedPort(t, "tcp", "127.0.0.1")
	err := mustHTTP(t, Spec{}).Check(checkCtx(t, 2*time.Second), closed)
	wantFail(t, err, ReasonRefused, "connect "+closed.String()+": refused")

	_, _, target := newHTTPServer(t)
	within(t, 1200*time.Millisecond, func() {
		err = mustHTTP(t, Spec{Path: "/slow"}).Check(checkCtx(t, 300*time.Millisecond), target)
	})
	wantFail(t, err, ReasonTimeout, "timeout after")

	silent := silentListener(t)
	err = mustHTTP(t, Spec{}).Check(checkCtx(t, 200*time.Millisecond), silent)
	wantFail(t, err, ReasonTimeout, "timeout after")
}

func TestHTTPS(t *testing.T) {
	var mu sync.Mutex
	var sni string
	srv := httptest.NewUnstartedServer(testMux(&seen{}))
	srv.TLS = &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		sni = hello.ServerName
		mu.Unlock()
		return nil, nil
	}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	target := addrPort(t, srv.Listener.Addr())
	lastSNI := func() string { mu.Lock(); defer mu.Unlock(); return sni }

	tests := []struct {
		name    string
		check   Spec
		reason  Reason
		wantSNI string
	}{
		{"verify off accepts the test certificate", Spec{Body: "UP"}, "", ""},
		{"verify on refuses it", Spec{TLSVerify: true}, ReasonTLS, ""},
		{"sni from host, without port", Spec{Host: "www.example.com:8443"}, "", "www.example.com"},
		{"sni set apart from host", Spec{Host: "www.example.com", ServerName: "api.example.com"}, "", "api.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check.Type = "https"
			err := mustHTTP(t, tt.check).Check(checkCtx(t, 2*time.Second), target)
			if tt.reason != "" {
				wantFail(t, err, tt.reason, "certificate")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := lastSNI(); got != tt.wantSNI {
				t.Errorf("SNI %q, want %q", got, tt.wantSNI)
			}
		})
	}
}

func TestHTTPIPv6(t *testing.T) {
	haveIPv6(t)
	s := &seen{}
	srv := httptest.NewUnstartedServer(testMux(s))
	srv.Listener.Close()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	target := addrPort(t, l.Addr())
	if err := mustHTTP(t, Spec{Body: "UP"}).Check(checkCtx(t, 2*time.Second), target); err != nil {
		t.Fatal(err)
	}
	if _, _, host, _ := s.get(); host != target.String() {
		t.Errorf("Host %q, want %q", host, target)
	}
}

func TestNewHTTPBadRegex(t *testing.T) {
	if _, err := NewHTTP(Spec{Type: "http", BodyRegex: "("}); err == nil {
		t.Error("a broken regexp was accepted")
	}
}
