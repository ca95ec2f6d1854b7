//go:build integration && !ipvs

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

	"github.com/lvsd/lvsd/director/handover/rstguard"
	"github.com/lvsd/lvsd/integration/netlab"
)

// TestRSTGuardHoldsResets runs the reset guard on this machine's kernel.
// Nothing listens on the director's VIP, so its stack answers a SYN with
// a reset (RFC 793 section 3.4), as it answers a synced-too-late segment
// after a takeover: the client sees ECONNREFUSED. While the guard holds
// the VIP:port the reset is dropped and the client times out instead.
func TestRSTGuardHoldsResets(t *testing.T) {
	l := netlab.ForTest(t)
	c, d := l.NS("c"), l.NS("d")
	l.Link(c, "eth0", "192.0.2.1/24", d, "eth0", "192.0.2.2/24")
	l.In(c, "ip", "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad")
	l.In(d, "ip", "addr", "add", "192.0.2.10/32", "dev", "eth0")
	l.In(d, "ip", "addr", "add", "2001:db8::2/64", "dev", "eth0", "nodad")
	l.In(d, "ip", "addr", "add", "2001:db8::10/128", "dev", "eth0", "nodad")

	const table = "lvsdtest"
	vip4, vip6 := "192.0.2.10:80", "[2001:db8::10]:80"
	other := "192.0.2.10:81"
	eps := []netip.AddrPort{netip.MustParseAddrPort(vip4), netip.MustParseAddrPort(vip6)}
	held := rstguard.Holds{Resets: eps}
	client := rstClient{t, l, c}
	refused, silent := client.refused, client.silent

	refused(vip4)
	refused(vip6)

	g := openRSTGuard(t, l, d, table)
	out := l.In(d, "nft", "list", "table", "inet", table) // nft must read what the library wrote
	for _, want := range []string{"type ipv4_addr . inet_service", "type ipv6_addr . inet_service", "flags timeout",
		"set replies4 {", "set replies6 {",
		"hook output priority filter; policy accept", "ip saddr . tcp sport @held4", "ip6 saddr . tcp sport @held6",
		"hook forward priority 102; policy accept", "ip saddr . tcp sport @replies4", "ip6 saddr . tcp sport @replies6"} {
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
	l.Must(g.Hold(held, 2*time.Second))
	t.Logf("held:\n%s", l.In(d, "nft", "list", "set", "inet", table, "held4"))
	silent(vip4)
	silent(vip6)
	refused(other) // only held endpoints
	n, err := g.Held()
	l.Must(err)
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
	l.Must(g.Hold(held, 30*time.Second))
	silent(vip4)
	l.Must(g.Hold(rstguard.Holds{}, 0))
	refused(vip4)
	refused(vip6)

	// Held as a realserver's replies, the VIP:ports are not held as
	// resets: the output chain looks at held4 and held6 only.
	l.Must(g.Hold(rstguard.Holds{Replies: eps}, 30*time.Second))
	refused(vip4)
	refused(vip6)

	// A crashed run leaves its table, holding; a new Open replaces it.
	l.Must(g.Hold(held, 30*time.Second))
	g2 := openRSTGuard(t, l, d, table)
	refused(vip4) // the stale holds went with the stale table
	if n, err := g2.Held(); err != nil || n != 0 {
		t.Errorf("Held() of the new table = %d, %v; want 0", n, err)
	}
	l.Must(g2.Hold(rstguard.Holds{Resets: eps[1:]}, 30*time.Second))
	silent(vip6)
	refused(vip4)
	if n, err := g2.Held(); err != nil || n == 0 {
		t.Errorf("Held() = %d, %v after a held SYN, want at least 1", n, err)
	}
	l.Must(g2.Close())
	if out := l.In(d, "nft", "list", "tables"); strings.Contains(out, table) {
		t.Errorf("table %s still there after Close:\n%s", table, out)
	}
	refused(vip6)
	// The first guard's table is gone too (the second replaced it).
	if err := g.Close(); err != nil {
		t.Errorf("Close of a guard whose table is gone: %v", err)
	}
}

// TestRSTGuardHoldsForwardedReplies runs the reply guard on this
// machine's kernel, which has no IPVS: d is a plain router between client
// c and server r, so every reply of r's that d forwards stands in for one
// that IPVS left untranslated (it would carry the VIP otherwise). While
// the guard holds r's endpoint, d drops r's SYN-ACK and the client times
// out; r's other endpoints answer as before; the hold ends by itself.
func TestRSTGuardHoldsForwardedReplies(t *testing.T) {
	l := netlab.ForTest(t)
	c, d, r := l.NS("c"), l.NS("d"), l.NS("r")
	// The lab's namespaces run no DAD: with it on the fresh links, d held
	// the first forwarded IPv6 packet for about a second, long enough to
	// fail a dial.
	l.Link(c, "eth0", "192.0.2.1/24", d, "eth0", "192.0.2.2/24")
	l.Link(d, "eth1", "198.51.100.1/24", r, "eth0", "198.51.100.11/24")
	l.In(c, "ip", "addr", "add", "2001:db8:c::1/64", "dev", "eth0", "nodad")
	l.In(d, "ip", "addr", "add", "2001:db8:c::2/64", "dev", "eth0", "nodad")
	l.In(d, "ip", "addr", "add", "2001:db8:d::1/64", "dev", "eth1", "nodad")
	l.In(r, "ip", "addr", "add", "2001:db8:d::11/64", "dev", "eth0", "nodad")
	l.In(d, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	l.In(c, "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.2")
	l.In(c, "ip", "-6", "route", "add", "2001:db8:d::/64", "via", "2001:db8:c::2")
	l.In(r, "ip", "route", "add", "default", "via", "198.51.100.1")
	l.In(r, "ip", "-6", "route", "add", "default", "via", "2001:db8:d::1")

	real4, real6 := "198.51.100.11:8080", "[2001:db8:d::11]:8080"
	open, closed := "198.51.100.11:8081", "198.51.100.11:8082" // held by nobody
	for _, addr := range []string{real4, real6, open} {
		rstListen(t, l, r, addr)
	}
	eps := []netip.AddrPort{netip.MustParseAddrPort(real4), netip.MustParseAddrPort(real6)}
	client := rstClient{t, l, c}
	client.connects(real4)
	client.connects(real6)
	client.connects(open)
	client.refused(closed) // r's reset, forwarded

	g := openRSTGuard(t, l, d, "lvsdtest")
	// Held as resets, r's endpoints go on: forwarded packets never
	// traverse the output chain.
	l.Must(g.Hold(rstguard.Holds{Resets: eps}, 30*time.Second))
	client.connects(real4)
	client.connects(real6)

	start := time.Now()
	l.Must(g.Hold(rstguard.Holds{Replies: eps}, 2*time.Second))
	t.Logf("held:\n%s", l.In(d, "nft", "list", "set", "inet", "lvsdtest", "replies4"))
	client.silent(real4)
	client.silent(real6)
	client.connects(open)  // only held endpoints
	client.refused(closed) // a reset from an endpoint nobody holds still passes
	resets, replies, err := g.HeldByKind()
	l.Must(err)
	if n, err := g.Held(); err != nil || n != resets+replies || replies < 2 || resets != 0 {
		t.Errorf("Held() = %d, %v; HeldByKind() = %d resets, %d replies; want at least 2 replies, no resets, and their sum",
			n, err, resets, replies)
	}
	t.Logf("HeldByKind() = %d resets, %d replies", resets, replies)

	// The kernel ends the hold by itself.
	var last error
	for end := start.Add(3 * time.Second); time.Now().Before(end); {
		if last = rstDial(l, c, real4, 300*time.Millisecond); last == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("dial %s %v after a 2s hold: %v, want connected", real4, time.Since(start).Round(time.Millisecond), last)
	}
	if took := time.Since(start); took < 1950*time.Millisecond {
		t.Errorf("hold of 2s ended after %v", took)
	}
	t.Logf("hold of 2s ended within %v", time.Since(start).Round(time.Millisecond))
	client.connects(real6)
}

// openRSTGuard opens a reset guard in namespace ns and closes it when the
// test ends (a second Close is a no-op).
func openRSTGuard(t *testing.T, l *netlab.T, ns, table string) *rstguard.Guard {
	t.Helper()
	var g *rstguard.Guard
	l.Must(<-l.Go(ns, func() (err error) {
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
func rstDial(l *netlab.T, ns, addr string, timeout time.Duration) error {
	conn, err := l.Lab.Dial(ns, addr, timeout)
	if err == nil {
		conn.Close()
	}
	return err
}

// rstListen listens on TCP addr in namespace ns, and accepts and closes
// every connection, until the test ends.
func rstListen(t *testing.T, l *netlab.T, ns, addr string) {
	t.Helper()
	l.Serve(ns, addr, func(net.Conn) {})
}

// rstClient dials from namespace ns and fails the test when a dial ends
// otherwise than wanted.
type rstClient struct {
	t  *testing.T
	l  *netlab.T
	ns string
}

func (c rstClient) connects(addr string) {
	c.t.Helper()
	if err := rstDial(c.l, c.ns, addr, 2*time.Second); err != nil {
		c.t.Fatalf("dial %s: %v, want connected", addr, err)
	}
}

func (c rstClient) refused(addr string) {
	c.t.Helper()
	if err := rstDial(c.l, c.ns, addr, 2*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		c.t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
}

func (c rstClient) silent(addr string) {
	c.t.Helper()
	// Timeout(), not os.ErrDeadlineExceeded: net reports a dial deadline
	// as either, depending on which fires first.
	var ne net.Error
	if err := rstDial(c.l, c.ns, addr, 500*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("dial %s: %v, want a timeout (held)", addr, err)
	}
}
