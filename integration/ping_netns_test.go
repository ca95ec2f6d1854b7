//go:build integration && !ipvs

package integration

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/integration/netlab"
)

// TestPingCheckInNamespaces runs the ping checker from one namespace at
// a neighbour that answers, at an address of the same subnet that nobody
// holds, and over IPv6, on this machine's kernel.
func TestPingCheckInNamespaces(t *testing.T) {
	l := netlab.ForTest(t)
	a, b := l.NS("a"), l.NS("b")
	l.Link(a, "e0", "192.0.2.1/24", b, "e0", "192.0.2.2/24")
	l.In(a, "ip", "addr", "add", "2001:db8::1/64", "dev", "e0", "nodad")
	l.In(b, "ip", "addr", "add", "2001:db8::2/64", "dev", "e0", "nodad")
	p := healthcheck.NewPing(healthcheck.Spec{Type: "ping", Timeout: 500 * time.Millisecond})
	check := func(target string) error {
		var err error
		done := l.Go(a, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			err = p.Check(ctx, netip.AddrPortFrom(netip.MustParseAddr(target), 0))
			return nil
		})
		<-done
		return err
	}
	for _, up := range []string{"192.0.2.2", "2001:db8::2"} {
		if err := check(up); err != nil {
			t.Errorf("ping %s (answers): %v", up, err)
		}
	}
	start := time.Now()
	err := check("192.0.2.3") // in the subnet, held by nobody
	if err == nil {
		t.Fatal("ping of an address nobody holds succeeded")
	}
	if r := healthcheck.ReasonOf(err); r != healthcheck.ReasonTimeout && r != healthcheck.ReasonUnreachable {
		t.Errorf("silent address: reason %q (%v), want timeout or unreachable", r, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("silent address took %v with a 500ms timeout", d)
	}
	t.Logf("silent address: %v", err)
}
