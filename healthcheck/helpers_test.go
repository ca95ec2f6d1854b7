package healthcheck

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// addrPort parses a listener's address.
func addrPort(t testing.TB, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatalf("parse %v: %v", a, err)
	}
	return ap
}

// checkCtx bounds one check in a test.
func checkCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// wantFail asserts that err is an *Error with reason r whose message
// contains every one of subs.
func wantFail(t testing.TB, err error, r Reason, subs ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *Error with reason %q", err, err, r)
	}
	if e.Reason != r {
		t.Errorf("reason %q (%v), want %q", e.Reason, err, r)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
}

// closedPort returns a local address where nothing listens.
func closedPort(t testing.TB, network, host string) netip.AddrPort {
	t.Helper()
	switch network {
	case "tcp":
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return addrPort(t, l.Addr())
	default:
		c, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return addrPort(t, c.LocalAddr())
	}
}

// silentListener accepts connections and never writes to them.
func silentListener(t testing.TB) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return addrPort(t, l.Addr())
}

// haveIPv6 skips the test when ::1 cannot be bound.
func haveIPv6(t testing.TB) {
	t.Helper()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	l.Close()
}

// within fails the test when f takes longer than d.
func within(t testing.TB, d time.Duration, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if took := time.Since(start); took > d {
		t.Errorf("took %v, want at most %v", took, d)
	}
}
