//go:build integration

package integration

import (
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/rstguard"
)

// TestRSTGuardHoldsResets runs the reset guard on this machine's kernel.
// Nothing listens on the director's VIP, so its stack answers a SYN with
// a reset (RFC 793 section 3.4), as it answers a synced-too-late segment
// after a takeover: the client sees ECONNREFUSED. While the guard holds
// the VIP:port the reset is dropped and the client times out instead.
func TestRSTGuardHoldsResets(t *testing.T) {
	l := newLab(t)
	c, d := l.ns("c"), l.ns("d")
	l.link(c, "eth0", "192.0.2.1/24", d, "eth0", "192.0.2.2/24")
	l.in(c, "ip", "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad")
	l.in(d, "ip", "addr", "add", "192.0.2.10/32", "dev", "eth0")
	l.in(d, "ip", "addr", "add", "2001:db8::2/64", "dev", "eth0", "nodad")
	l.in(d, "ip", "addr", "add", "2001:db8::10/128", "dev", "eth0", "nodad")

	const table = "lvsdtest"
	vip4, vip6 := "192.0.2.10:80", "[2001:db8::10]:80"
	other := "192.0.2.10:81"
	held := []netip.AddrPort{netip.MustParseAddrPort(vip4), netip.MustParseAddrPort(vip6)}
	refused := func(addr string) {
		t.Helper()
		if err := rstDial(l, c, addr, 2*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want connection refused", addr, err)
		}
	}
	silent := func(addr string) {
		t.Helper()
		// Timeout(), not os.ErrDeadlineExceeded: net reports a dial
		// deadline as either, depending on which fires first.
		var ne net.Error
		if err := rstDial(l, c, addr, 500*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("dial %s: %v, want a timeout (reset held)", addr, err)
		}
	}

	refused(vip4)
	refused(vip6)

	g := openRSTGuard(t, l, d, table)
	out := l.in(d, "nft", "list", "table", "inet", table) // nft must read what the library wrote
	for _, want := range []string{"type ipv4_addr . inet_service", "type ipv6_addr . inet_service", "flags timeout",
		"hook output priority filter; policy accept", "ip saddr . tcp sport @held4", "ip6 saddr . tcp sport @held6"} {
		if !strings.Contains(out, want) {
			t.Errorf("nft list table inet %s lacks %q:\n%s", table, want, out)
		}
	}
	if host, _ := exec.Command("nft", "list", "tables").CombinedOutput(); strings.Contains(string(host), table) {
		t.Errorf("table %s in the test's own namespace, not only in %s:\n%s", table, d, host)
	}

	// Hold is called from this goroutine, outside d: the guard's socket
	// stays in the namespace Open ran in.
	start := time.Now()
	l.must(g.Hold(held, 2*time.Second))
	t.Logf("held:\n%s", l.in(d, "nft", "list", "set", "inet", table, "held4"))
	silent(vip4)
	silent(vip6)
	refused(other) // only held endpoints
	n, err := g.Held()
	l.must(err)
	if n < 2 {
		t.Errorf("Held() = %d after two held SYNs, want at least 2", n)
	}
	t.Logf("Held() = %d", n)

	// The kernel ends the hold by itself.
	var last error
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		if last = rstDial(l, c, vip4, 300*time.Millisecond); errors.Is(last, syscall.ECONNREFUSED) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !errors.Is(last, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s %v after a 2s hold: %v, want refused", vip4, time.Since(start).Round(time.Millisecond), last)
	}
	if took := time.Since(start); took < 1950*time.Millisecond {
		t.Errorf("hold of 2s ended after %v", took)
	}
	t.Logf("hold of 2s ended within %v", time.Since(start).Round(time.Millisecond))
	refused(vip6)

	// An empty hold releases at once.
	l.must(g.Hold(held, 30*time.Second))
	silent(vip4)
	l.must(g.Hold(nil, 0))
	refused(vip4)
	refused(vip6)

	// A crashed run leaves its table, holding; a new Open replaces it.
	l.must(g.Hold(held, 30*time.Second))
	g2 := openRSTGuard(t, l, d, table)
	refused(vip4) // the stale holds went with the stale table
	if n, err := g2.Held(); err != nil || n != 0 {
		t.Errorf("Held() of the new table = %d, %v; want 0", n, err)
	}
	l.must(g2.Hold(held[1:], 30*time.Second))
	silent(vip6)
	refused(vip4)
	if n, err := g2.Held(); err != nil || n == 0 {
		t.Errorf("Held() = %d, %v after a held SYN, want at least 1", n, err)
	}
	l.must(g2.Close())
	if out := l.in(d, "nft", "list", "tables"); strings.Contains(out, table) {
		t.Errorf("table %s still there after Close:\n%s", table, out)
	}
	refused(vip6)
	// The first guard's table is gone too (the second replaced it).
	if err := g.Close(); err != nil {
		t.Errorf("Close of a guard whose table is gone: %v", err)
	}
}

// openRSTGuard opens a reset guard in namespace ns and closes it when the
// test ends (a second Close is a no-op).
func openRSTGuard(t *testing.T, l *lab, ns, table string) *rstguard.Guard {
	t.Helper()
	var g *rstguard.Guard
	l.must(<-l.goIn(ns, func() (err error) {
		g, err = rstguard.Open(table)
		return err
	}))
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return g
}

// rstDial connects to addr over TCP from namespace ns and returns the
// dial's error; nil means it connected (and the connection is closed).
func rstDial(l *lab, ns, addr string, timeout time.Duration) error {
	var dialErr error
	if err := <-l.goIn(ns, func() error {
		conn, err := net.DialTimeout("tcp", addr, timeout)
		if err == nil {
			conn.Close()
		}
		dialErr = err
		return nil
	}); err != nil {
		l.t.Fatalf("enter %s: %v", ns, err)
	}
	return dialErr
}
