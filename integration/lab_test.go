//go:build integration

package integration

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// lab is a set of network namespaces joined by veth links, torn down at
// the end of the test whatever happens. Names carry a random prefix so
// parallel runs never collide.
type lab struct {
	t      *testing.T
	prefix string
	dir    string // scratch files (configs, logs)
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "lab: needs root")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	l := &lab{t: t, prefix: "lv" + hex.EncodeToString(b), dir: t.TempDir()}
	return l
}

// ns creates a namespace with lo up and returns its full name.
func (l *lab) ns(name string) string {
	full := l.prefix + "-" + name
	l.ip("netns", "add", full)
	l.t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", full).Run() })
	l.in(full, "ip", "link", "set", "lo", "up")
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
	out, err := l.try(ns, args...)
	if err != nil {
		l.t.Fatalf("in %s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
	return out
}

// try runs a command inside namespace ns.
func (l *lab) try(ns string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// link joins namespaces a and b with a veth pair named ifa and ifb; addr
// arguments ("192.0.2.1/24") are optional.
func (l *lab) link(a, ifa, addrA, b, ifb, addrB string) {
	l.t.Helper()
	tmpA, tmpB := l.prefix+"a"+ifa, l.prefix+"b"+ifb
	tmpA, tmpB = tmpA[:min(len(tmpA), 15)], tmpB[:min(len(tmpB), 15)]
	l.ip("link", "add", tmpA, "type", "veth", "peer", "name", tmpB)
	l.ip("link", "set", tmpA, "netns", a)
	l.ip("link", "set", tmpB, "netns", b)
	l.in(a, "ip", "link", "set", tmpA, "name", ifa)
	l.in(b, "ip", "link", "set", tmpB, "name", ifb)
	for _, e := range []struct{ ns, ifc, addr string }{{a, ifa, addrA}, {b, ifb, addrB}} {
		if e.addr != "" {
			l.in(e.ns, "ip", "addr", "add", e.addr, "dev", e.ifc)
		}
		l.in(e.ns, "ip", "link", "set", e.ifc, "up")
	}
}

// start runs a long-lived command inside ns, with its output in a log
// file; it is killed at the end of the test.
func (l *lab) start(ns, name string, args ...string) *exec.Cmd {
	l.t.Helper()
	logf, err := os.Create(filepath.Join(l.dir, name+".log"))
	if err != nil {
		l.t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	l.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	return cmd
}

// logOf returns what a started command has printed so far.
func (l *lab) logOf(name string) string {
	b, _ := os.ReadFile(filepath.Join(l.dir, name+".log"))
	return string(b)
}

// goIn runs fn in namespace ns on a goroutine locked to its own thread,
// and returns a channel with fn's result. Sockets fn opens live in ns.
func (l *lab) goIn(ns string, fn func() error) <-chan error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		h, err := netns.GetFromName(ns)
		if err != nil {
			done <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			done <- err
			return
		}
		done <- fn()
	}()
	return done
}

// nginx starts Debian's nginx in ns, answering every request on port
// with body. It runs as one process (master_process off), so killing it
// closes its listener at once.
func (l *lab) nginx(ns, name string, port int, body string) *exec.Cmd {
	l.t.Helper()
	dir := filepath.Join(l.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		l.t.Fatal(err)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s;
  uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  server { listen %[2]d; location / { return 200 "%[3]s\n"; } }
}
`, dir, port, body)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		l.t.Fatal(err)
	}
	cmd := l.start(ns, name, "nginx", "-c", path, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	l.waitPort(ns, port)
	return cmd
}

// waitPort waits (at most 10 s) until something listens on TCP port in ns.
func (l *lab) waitPort(ns string, port int) {
	l.t.Helper()
	want := fmt.Sprintf(":%d ", port)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if out, _ := l.try(ns, "ss", "-Htln"); strings.Contains(out, want) {
			return
		}
	}
	l.t.Fatalf("nothing listens on port %d in %s", port, ns)
}

// write puts a file in the lab's scratch directory and returns its path.
func (l *lab) write(name, body string) string {
	l.t.Helper()
	path := filepath.Join(l.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return path
}
