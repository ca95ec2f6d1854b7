//go:build integration

package integration

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// kadLab is the segment the keepalived tests and the failover benchmark
// run on: a switch namespace with a bridge, and the hosts a and b
// (directors) and c (client) on it, each with its e0 on 203.0.113.0/24.
// Every namespace, process and listener goes at the end of the test or
// benchmark, also on failure (netlab.ForTest).
type kadLab struct {
	*netlab.T
	ns  map[string]string // host ("a", "b", "c") to namespace
	seq int               // daemons made so far, for their directories
}

// The lab's addresses: the directors' own, the client's and the VIP.
var kadAddr = map[string]string{"a": "203.0.113.1", "b": "203.0.113.2", "c": "203.0.113.100"}

const (
	kadVIP  = "203.0.113.10"
	kadPort = 7000
)

// newKadLab builds the segment; it ends tb (netlab.SkipOrFail) without
// root or keepalived. The client learns nothing in advance: each run
// starts with an empty neighbour table (see reset).
func newKadLab(tb testing.TB) *kadLab {
	tb.Helper()
	l := &kadLab{T: netlab.ForTest(tb)}
	if _, err := exec.LookPath("keepalived"); err != nil {
		netlab.SkipOrFail(tb, "keepalived lab: keepalived is not installed (apt-get install keepalived)")
	}
	hosts := map[string]string{}
	for host, addr := range kadAddr {
		hosts[host] = addr + "/24"
	}
	l.ns = l.Segment("e0", hosts)
	l.respond("a")
	l.respond("b")
	return l
}

// respond serves TCP port kadPort in host's namespace on every address,
// so on the VIP while host holds it: each connection gets the host's
// name and a newline, then is closed.
func (l *kadLab) respond(host string) {
	l.TB.Helper()
	l.Serve(l.ns[host], fmt.Sprintf(":%d", kadPort), func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(c, host+"\n")
	})
}

// holds reports whether host has the VIP on its e0 and e0 is not down,
// as `ip -br addr` shows it ("e0@if7 UP 203.0.113.1/24 203.0.113.10/24").
// A dead director (link down) may still have the VIP configured, as a
// SIGKILLed daemon leaves it, but holds nothing.
func (l *kadLab) holds(host string) bool {
	out, _ := l.Try(l.ns[host], "ip", "-br", "-4", "addr", "show", "dev", "e0")
	f := strings.Fields(out)
	return len(f) > 2 && f[1] != "DOWN" && slices.Contains(f[2:], kadVIP+"/24")
}

// holdsNL is holds by netlink: no process, for the benchmark's loops.
// The VIP may be on any interface: on a macvlan with a virtual MAC.
func (l *kadLab) holdsNL(host string) bool {
	return l.LinkIsUp(l.ns[host], "e0") && l.HasAddr(l.ns[host], "", netip.MustParseAddr(kadVIP))
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

// setLink sets host's e0 up or down by netlink, at once.
func (l *kadLab) setLink(host string, up bool) {
	l.TB.Helper()
	l.SetLink(l.ns[host], "e0", up)
}

// reboot brings a dead director back without its daemon: no VIP (the
// SIGKILLed daemon left it configured), link up.
func (l *kadLab) reboot(host string) {
	l.TB.Helper()
	_, _ = l.Try(l.ns[host], "ip", "addr", "del", kadVIP+"/24", "dev", "e0")
	l.setLink(host, true)
}

// reset puts the segment back as it was built, between runs: links up,
// no VIP on either director, no VRRP filter in b, and a client that has
// forgotten which MAC the VIP had.
func (l *kadLab) reset() {
	l.TB.Helper()
	for _, host := range []string{"a", "b"} {
		l.setLink(host, true)
		_, _ = l.Try(l.ns[host], "ip", "addr", "del", kadVIP+"/24", "dev", "e0")
		_ = l.Lab.AllowVRRP(l.ns[host]) // an error: nothing was dropped
	}
	_, _ = l.Try(l.ns["c"], "ip", "neigh", "flush", "dev", "e0")
}

// dropVRRP drops (on) or lets through (off) VRRP in host's namespace,
// in both directions.
func (l *kadLab) dropVRRP(host string, on bool) {
	l.TB.Helper()
	if on {
		l.DropVRRP(l.ns[host])
	} else {
		l.AllowVRRP(l.ns[host])
	}
}

// ask connects from the client to the VIP and returns the name of the
// director that answered.
func (l *kadLab) ask(timeout time.Duration) (string, error) {
	var name string
	err := <-l.Go(l.ns["c"], func() error {
		var err error
		name, err = kadProbeOnce(net.JoinHostPort(kadVIP, fmt.Sprint(kadPort)), timeout)
		return err
	})
	return name, err
}

// answered waits (bounded) until the client reaches the VIP at want.
func (l *kadLab) answered(want string, timeout time.Duration) time.Duration {
	l.TB.Helper()
	var last string
	return l.WaitFor(timeout, "client reaches the VIP at "+want, func() bool {
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
