package healthcheck

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// The benchmarks measure one check's cost in the checking process; the
// loopback servers run in the same process, so ns/op includes their side
// too. They run serially: what matters for 10,000 reals is the CPU per
// check, not the latency.

func BenchmarkTCPCheck(b *testing.B) {
	target, _ := tcpServer(b, "127.0.0.1", func(net.Conn) {})
	tc := NewTCP(Spec{})
	benchCheck(b, tc)(target)
}

func BenchmarkTCPSendExpect(b *testing.B) {
	target, _ := tcpServer(b, "127.0.0.1", pingPong)
	tc := NewTCP(Spec{Send: "PING\n", Expect: "+PONG"})
	benchCheck(b, tc)(target)
}

func BenchmarkHTTPCheck(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("status: UP\n"))
	}))
	b.Cleanup(srv.Close)
	h, err := NewHTTP(Spec{Type: "http", Body: "UP"})
	if err != nil {
		b.Fatal(err)
	}
	benchCheck(b, h)(addrPort(b, srv.Listener.Addr()))
}

func BenchmarkUDPCheck(b *testing.B) {
	target, _ := udpServer(b, "127.0.0.1", echoPong)
	benchCheck(b, NewUDP(Spec{Send: "ping", Expect: "PONG"}))(target)
}

func BenchmarkTrackerObserve(b *testing.B) {
	tr := NewTracker(2, 2, true)
	failure := errors.New("refused")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var err error
		if i%3 == 0 {
			err = failure
		}
		tr.Observe(t0, err)
	}
}

// benchCheck runs c against the target b.N times, each under its own
// timeout as the Runner does.
func benchCheck(b *testing.B, c Checker) func(target netip.AddrPort) {
	return func(target netip.AddrPort) {
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := c.Check(ctx, target)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
