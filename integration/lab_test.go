//go:build integration

package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// lab is netlab.Lab for a test: every failure fails the test, and the lab
// is torn down when the test ends, whatever happens.
type lab struct {
	t      *testing.T
	nl     *netlab.Lab
	prefix string
	dir    string // scratch files (configs, logs)
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "lab: needs root")
	}
	nl := netlab.New(t.TempDir())
	t.Cleanup(nl.Close)
	return &lab{t: t, nl: nl, prefix: nl.Prefix, dir: nl.Dir}
}

func (l *lab) must(err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatal(err)
	}
}

// ns creates a namespace with lo up and returns its full name.
func (l *lab) ns(name string) string {
	l.t.Helper()
	full, err := l.nl.NS(name)
	l.must(err)
	return full
}

// ip runs the ip command on the host side (the test's own namespace).
func (l *lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// in runs a command inside namespace ns and fails the test if it fails.
func (l *lab) in(ns string, args ...string) string {
	l.t.Helper()
	out, err := l.nl.In(ns, args...)
	l.must(err)
	return out
}

// try runs a command inside namespace ns.
func (l *lab) try(ns string, args ...string) (string, error) { return l.nl.In(ns, args...) }

// link joins namespaces a and b with a veth pair named ifa and ifb; addr
// arguments ("192.0.2.1/24") are optional.
func (l *lab) link(a, ifa, addrA, b, ifb, addrB string) {
	l.t.Helper()
	l.must(l.nl.Link(a, ifa, addrA, b, ifb, addrB))
}

// start runs a long-lived command inside ns, with its output in a log
// file; it is killed at the end of the test.
func (l *lab) start(ns, name string, args ...string) *exec.Cmd {
	l.t.Helper()
	cmd, err := l.nl.Start(ns, name, args...)
	l.must(err)
	return cmd
}

// logOf returns what a started command has printed so far.
func (l *lab) logOf(name string) string { return l.nl.LogOf(name) }

// goIn runs fn in namespace ns on a goroutine locked to its own thread,
// and returns a channel with fn's result. Sockets fn opens live in ns.
func (l *lab) goIn(ns string, fn func() error) <-chan error { return l.nl.GoIn(ns, fn) }

// nginx starts Debian's nginx in ns, answering every request on port
// with body. It runs as one process (master_process off), so killing it
// closes its listener at once.
func (l *lab) nginx(ns, name string, port int, body string) *exec.Cmd {
	l.t.Helper()
	cmd, err := l.nl.Nginx(ns, name, port, body)
	l.must(err)
	return cmd
}

// waitPort waits (at most 10 s) until something listens on TCP port in ns.
func (l *lab) waitPort(ns string, port int) {
	l.t.Helper()
	l.must(l.nl.WaitPort(ns, port, 10*time.Second))
}

// write puts a file in the lab's scratch directory and returns its path.
func (l *lab) write(name, body string) string {
	l.t.Helper()
	path, err := l.nl.Write(name, body)
	l.must(err)
	return path
}
