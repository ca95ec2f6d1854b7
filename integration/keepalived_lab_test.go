//go:build integration

package integration

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/lvsd/lvsd/integration/netlab"
)

// kadLab is the segment the keepalived tests and the failover benchmark
// run on: a switch namespace with a bridge, and the hosts a and b
// (directors) and c (client) on it, each with its e0 on 203.0.113.0/24.
// It takes a testing.TB, unlike lab, so that BenchmarkVRRPFailover uses
// it too. Every namespace, process and listener goes at the end of the
// test or benchmark, also on failure.
type kadLab struct {
	tb     testing.TB
	prefix string
	dir    string
	ns     map[string]string // host ("a", "b", "c") to namespace
	nl     map[string]*netlink.Handle
	seq    int // daemons made so far, for their directories
}

// The lab's addresses: the directors' own, the client's and the VIP.
var kadAddr = map[string]string{"a": "203.0.113.1", "b": "203.0.113.2", "c": "203.0.113.100"}

const (
	kadVIP  = "203.0.113.10"
	kadPort = 7000
)

// kadNeed skips (or fails, see skipOrFail's variables) unless the lab can
// run here: root and keepalived. Benchmarks fail instead of skipping.
func kadNeed(tb testing.TB) {
	tb.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "keepalived lab: needs root"
	} else if _, err := exec.LookPath("keepalived"); err != nil {
		why = "keepalived lab: keepalived is not installed (apt-get install keepalived)"
	}
	switch t := tb.(type) {
	case *testing.T:
		if why != "" {
			skipOrFail(t, why)
		}
	default:
		if why != "" {
			tb.Fatal(why)
		}
	}
}

// newKadLab builds the segment. The client learns nothing in advance:
// each run starts with an empty neighbour table (see reset).
func newKadLab(tb testing.TB) *kadLab {
	tb.Helper()
	kadNeed(tb)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	l := &kadLab{tb: tb, prefix: "ka" + hex.EncodeToString(b), dir: tb.TempDir(),
		ns: map[string]string{}, nl: map[string]*netlink.Handle{}}
	sw := l.netns("sw")
	l.run(sw, "ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	l.run(sw, "ip", "link", "set", "br0", "up")
	for _, host := range []string{"a", "b", "c"} {
		full := l.netns(host)
		l.ns[host] = full
		l.run(sw, "ip", "link", "add", "p"+host, "type", "veth", "peer", "name", "e0", "netns", full)
		l.run(sw, "ip", "link", "set", "p"+host, "master", "br0", "up")
		l.run(full, "ip", "addr", "add", kadAddr[host]+"/24", "dev", "e0")
		l.run(full, "ip", "link", "set", "e0", "up")
		h, err := netns.GetFromName(full)
		if err != nil {
			tb.Fatal(err)
		}
		nl, err := netlink.NewHandleAt(h)
		h.Close()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(nl.Close)
		l.nl[host] = nl
	}
	l.respond("a")
	l.respond("b")
	return l
}

// netns creates a namespace with lo up; it is deleted at the end.
func (l *kadLab) netns(name string) string {
	l.tb.Helper()
	full := l.prefix + "-" + name
	if out, err := exec.Command("ip", "netns", "add", full).CombinedOutput(); err != nil {
		l.tb.Fatalf("ip netns add %s: %v\n%s", full, err, out)
	}
	l.tb.Cleanup(func() { _ = exec.Command("ip", "netns", "del", full).Run() })
	l.run(full, "ip", "link", "set", "lo", "up")
	return full
}

// run runs a command in namespace ns and fails the test if it fails.
func (l *kadLab) run(ns string, args ...string) string {
	l.tb.Helper()
	out, err := l.try(ns, args...)
	if err != nil {
		l.tb.Fatalf("in %s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
	return out
}

// try runs a command in namespace ns.
func (l *kadLab) try(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

// goIn runs fn on a goroutine locked to a thread in host's namespace and
// returns its result; sockets fn opens live there.
func (l *kadLab) goIn(host string, fn func() error) <-chan error {
	return netlab.Go(l.ns[host], fn)
}

// respond serves TCP port kadPort in host's namespace on every address,
// so on the VIP while host holds it: each connection gets the host's
// name and a newline, then is closed.
func (l *kadLab) respond(host string) {
	l.tb.Helper()
	ready := make(chan net.Listener, 1)
	go func() {
		_ = <-l.goIn(host, func() error {
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", kadPort))
			if err != nil {
				ready <- nil
				return err
			}
			ready <- ln
			for {
				c, err := ln.Accept()
				if err != nil {
					return nil
				}
				go func() {
					defer c.Close()
					_ = c.SetDeadline(time.Now().Add(time.Second))
					_, _ = io.WriteString(c, host+"\n")
				}()
			}
		})
	}()
	ln := <-ready
	if ln == nil {
		l.tb.Fatalf("listen on port %d in %s", kadPort, host)
	}
	l.tb.Cleanup(func() { ln.Close() })
}

// holds reports whether host has the VIP on its e0 and e0 is not down,
// as `ip -br addr` shows it ("e0@if7 UP 203.0.113.1/24 203.0.113.10/24").
// A dead director (link down) may still have the VIP configured, as a
// SIGKILLed daemon leaves it, but holds nothing.
func (l *kadLab) holds(host string) bool {
	out, _ := l.try(l.ns[host], "ip", "-br", "-4", "addr", "show", "dev", "e0")
	f := strings.Fields(out)
	return len(f) > 2 && f[1] != "DOWN" && slices.Contains(f[2:], kadVIP+"/24")
}

// holdsNL is holds by netlink: no process, for the benchmark's loops.
func (l *kadLab) holdsNL(host string) bool {
	link, err := l.nl[host].LinkByName("e0")
	if err != nil || link.Attrs().Flags&net.FlagUp == 0 {
		return false
	}
	addrs, _ := l.nl[host].AddrList(link, netlink.FAMILY_V4)
	for _, a := range addrs {
		if a.IP.String() == kadVIP {
			return true
		}
	}
	return false
}

// holders returns which directors hold the VIP, by `ip -br addr`.
func (l *kadLab) holders() []string {
	var out []string
	for _, host := range []string{"a", "b"} {
		if l.holds(host) {
			out = append(out, host)
		}
	}
	return out
}

// waitFor polls cond every 5 ms until it holds (and returns how long that
// took) or timeout passes (and fails the test with what and why()).
func (l *kadLab) waitFor(timeout time.Duration, what string, cond func() bool, why func() string) time.Duration {
	l.tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			l.tb.Fatalf("%s: not within %v\n%s", what, timeout, why())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// setLink sets host's e0 up or down by netlink, at once.
func (l *kadLab) setLink(host string, up bool) {
	l.tb.Helper()
	link, err := l.nl[host].LinkByName("e0")
	if err == nil {
		if up {
			err = l.nl[host].LinkSetUp(link)
		} else {
			err = l.nl[host].LinkSetDown(link)
		}
	}
	if err != nil {
		l.tb.Fatalf("%s: e0 up=%v: %v", host, up, err)
	}
}

// reboot brings a dead director back without its daemon: no VIP (the
// SIGKILLed daemon left it configured), link up.
func (l *kadLab) reboot(host string) {
	l.tb.Helper()
	_, _ = l.try(l.ns[host], "ip", "addr", "del", kadVIP+"/24", "dev", "e0")
	l.setLink(host, true)
}

// reset puts the segment back as it was built, between runs: links up,
// no VIP on either director, no VRRP filter in b, and a client that has
// forgotten which MAC the VIP had.
func (l *kadLab) reset() {
	l.tb.Helper()
	for _, host := range []string{"a", "b"} {
		l.setLink(host, true)
		_, _ = l.try(l.ns[host], "ip", "addr", "del", kadVIP+"/24", "dev", "e0")
		_, _ = l.try(l.ns[host], "nft", "delete", "table", "inet", "kad")
	}
	_, _ = l.try(l.ns["c"], "ip", "neigh", "flush", "dev", "e0")
}

// dropVRRP drops (on) or lets through (off) IP protocol 112 in host's
// namespace, in both directions.
func (l *kadLab) dropVRRP(host string, on bool) {
	l.tb.Helper()
	ns := l.ns[host]
	if !on {
		l.run(ns, "nft", "delete", "table", "inet", "kad")
		return
	}
	l.run(ns, "nft", "add table inet kad; "+
		"add chain inet kad in { type filter hook input priority 0; }; "+
		"add chain inet kad out { type filter hook output priority 0; }; "+
		"add rule inet kad in meta l4proto 112 drop; "+
		"add rule inet kad out meta l4proto 112 drop")
}

// ask connects from the client to the VIP and returns the name of the
// director that answered.
func (l *kadLab) ask(timeout time.Duration) (string, error) {
	var name string
	err := <-l.goIn("c", func() error {
		var err error
		name, err = kadProbeOnce(net.JoinHostPort(kadVIP, fmt.Sprint(kadPort)), timeout)
		return err
	})
	return name, err
}

// answered waits (bounded) until the client reaches the VIP at want.
func (l *kadLab) answered(want string, timeout time.Duration) time.Duration {
	l.tb.Helper()
	var last string
	return l.waitFor(timeout, "client reaches the VIP at "+want, func() bool {
		name, err := l.ask(100 * time.Millisecond)
		last = fmt.Sprint(name, err)
		return err == nil && name == want
	}, func() string { return "last answer: " + last })
}

// kadProbeOnce connects to addr and reads the responder's line, all
// within timeout.
func kadProbeOnce(addr string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	b := make([]byte, 8)
	n, err := io.ReadAtLeast(c, b, 2)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b[:n])), nil
}

// file returns the path of name in the lab's scratch directory, creating
// its directory.
func (l *kadLab) file(name string) string {
	l.tb.Helper()
	path := filepath.Join(l.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		l.tb.Fatal(err)
	}
	return path
}

// kadLvsdBinary is lvsdBinary for a testing.TB.
func kadLvsdBinary(tb testing.TB) string {
	tb.Helper()
	p := os.Getenv("LVSD_BIN")
	if p == "" {
		p, _ = filepath.Abs("../.build/lvsd")
	}
	if _, err := os.Stat(p); err != nil {
		if t, ok := tb.(*testing.T); ok {
			skipOrFail(t, "lvsd binary not built: "+p+" (CGO_ENABLED=0 go build -o .build/lvsd ./cmd/lvsd)")
		}
		tb.Fatalf("lvsd binary not built: %s", p)
	}
	return p
}
