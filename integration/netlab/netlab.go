// Package netlab builds small networks of Linux network namespaces for
// lvsd's tests and demo: namespaces joined by veth links and bridges,
// processes started inside them, Go code run inside them. Everything a
// Lab creates is removed by Close. Names carry a random prefix so that
// concurrent labs never collide.
package netlab

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netns"
)

// Lab is a set of namespaces, links and processes.
type Lab struct {
	Prefix string // of every namespace and link name
	Dir    string // scratch files: configs, logs

	mu    sync.Mutex
	nss   []string
	procs []*exec.Cmd
	logs  []*os.File
}

// New returns an empty lab keeping its files in dir.
func New(dir string) *Lab {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &Lab{Prefix: "lv" + hex.EncodeToString(b), Dir: dir}
}

// NS creates a namespace with lo up and returns its full name.
func (l *Lab) NS(name string) (string, error) {
	full := l.Prefix + "-" + name
	if out, err := exec.Command("ip", "netns", "add", full).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ip netns add %s: %v: %s", full, err, out)
	}
	l.mu.Lock()
	l.nss = append(l.nss, full)
	l.mu.Unlock()
	_, err := l.In(full, "ip", "link", "set", "lo", "up")
	return full, err
}

// In runs a command inside namespace ns and returns its output.
func (l *Lab) In(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Link joins namespaces a and b with a veth pair named ifa and ifb, with
// the given addresses ("192.0.2.1/24"; "" for none), both up.
func (l *Lab) Link(a, ifa, addrA, b, ifb, addrB string) error {
	tmpA, tmpB := l.Prefix+"a"+ifa, l.Prefix+"b"+ifb
	tmpA, tmpB = tmpA[:min(len(tmpA), 15)], tmpB[:min(len(tmpB), 15)]
	steps := [][]string{
		{"ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB},
		{"ip", "link", "set", tmpA, "netns", a},
		{"ip", "link", "set", tmpB, "netns", b},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	for _, e := range []struct{ ns, tmp, ifc, addr string }{{a, tmpA, ifa, addrA}, {b, tmpB, ifb, addrB}} {
		if _, err := l.In(e.ns, "ip", "link", "set", e.tmp, "name", e.ifc); err != nil {
			return err
		}
		if e.addr != "" {
			if _, err := l.In(e.ns, "ip", "addr", "add", e.addr, "dev", e.ifc); err != nil {
				return err
			}
		}
		if _, err := l.In(e.ns, "ip", "link", "set", e.ifc, "up"); err != nil {
			return err
		}
	}
	return nil
}

// Switch creates a namespace holding a bridge and joins each of hosts to
// it with a veth named ifc on the host side, with the address given.
func (l *Lab) Switch(name, ifc string, hosts map[string]string) error {
	sw, err := l.NS(name)
	if err != nil {
		return err
	}
	for _, args := range [][]string{{"ip", "link", "add", "br0", "type", "bridge"}, {"ip", "link", "set", "br0", "up"}} {
		if _, err := l.In(sw, args...); err != nil {
			return err
		}
	}
	i := 0
	for ns, addr := range hosts {
		port := fmt.Sprintf("p%d", i)
		i++
		if err := l.Link(ns, ifc, addr, sw, port, ""); err != nil {
			return err
		}
		if _, err := l.In(sw, "ip", "link", "set", port, "master", "br0"); err != nil {
			return err
		}
	}
	return nil
}

// Start runs a long-lived command inside ns with its output in
// Dir/name.log; Close kills it.
func (l *Lab) Start(ns, name string, args ...string) (*exec.Cmd, error) {
	logf, err := os.Create(filepath.Join(l.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	l.mu.Lock()
	l.procs, l.logs = append(l.procs, cmd), append(l.logs, logf)
	l.mu.Unlock()
	return cmd, nil
}

// LogOf returns what a started command has printed so far.
func (l *Lab) LogOf(name string) string {
	b, _ := os.ReadFile(filepath.Join(l.Dir, name+".log"))
	return string(b)
}

// GoIn runs fn in namespace ns on a goroutine locked to its own thread and
// returns a channel with fn's result (see Go).
func (l *Lab) GoIn(ns string, fn func() error) <-chan error { return Go(ns, fn) }

// Go runs fn in the named network namespace on a goroutine locked to its
// own thread and returns a channel with fn's result. Sockets fn opens live
// in ns, and stay there when used from other goroutines. The thread is
// never unlocked: it exits with the goroutine, and the namespace with it.
func Go(ns string, fn func() error) <-chan error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
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

// WaitPort waits (at most limit) until something listens on TCP port in ns.
func (l *Lab) WaitPort(ns string, port int, limit time.Duration) error {
	want := fmt.Sprintf(":%d ", port)
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if out, _ := l.In(ns, "ss", "-Htln"); strings.Contains(out, want) {
			return nil
		}
	}
	return fmt.Errorf("nothing listens on port %d in %s after %v", port, ns, limit)
}

// Nginx starts Debian's nginx in ns, answering every request on port with
// body, as one process (master_process off: killing it closes its
// listener at once).
func (l *Lab) Nginx(ns, name string, port int, body string) (*exec.Cmd, error) {
	dir := filepath.Join(l.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
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
		return nil, err
	}
	cmd, err := l.Start(ns, name, "nginx", "-c", path, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	if err != nil {
		return nil, err
	}
	return cmd, l.WaitPort(ns, port, 10*time.Second)
}

// Write puts a file in Dir and returns its path.
func (l *Lab) Write(name, body string) (string, error) {
	path := filepath.Join(l.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, []byte(body), 0o644)
}

// Close kills every started process and deletes every namespace (which
// takes its links with it).
func (l *Lab) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.procs {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	for _, f := range l.logs {
		f.Close()
	}
	for i := len(l.nss) - 1; i >= 0; i-- {
		_ = exec.Command("ip", "netns", "del", l.nss[i]).Run()
	}
	l.procs, l.logs, l.nss = nil, nil, nil
}
