// Package netlab builds small networks of Linux network namespaces for
// lvsd's tests, benchmarks and demo: namespaces joined by veth links and
// bridges, commands and processes run inside them, Go code run inside
// them, servers and clients placed in them. Everything a Lab creates is
// removed by Close. Names carry a random prefix so that concurrent labs
// never collide.
//
// Lab's methods return errors (the demo has no testing.TB); ForTest wraps
// a Lab for a test or a benchmark, failing it on any error and closing
// the lab at its cleanup.
package netlab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Lab is a set of namespaces, links, processes and listeners.
type Lab struct {
	Prefix string // of every namespace name
	Dir    string // scratch files: configs, logs

	mu      sync.Mutex
	nss     []string
	procs   []*Proc
	closers []func() // listeners and netlink handles
	handles map[string]*netlink.Handle
}

// New returns an empty lab keeping its files in dir.
func New(dir string) *Lab {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &Lab{Prefix: "lv" + hex.EncodeToString(b), Dir: dir, handles: map[string]*netlink.Handle{}}
}

// NS creates a namespace and returns its full name. Its lo is up, and
// IPv6 duplicate address detection is off: a lab's addresses are unique
// by construction (and move between hosts), and a tentative address
// would only hold back the first packets for about a second.
func (l *Lab) NS(name string) (string, error) {
	full := l.Prefix + "-" + name
	if out, err := exec.Command("ip", "netns", "add", full).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ip netns add %s: %v: %s", full, err, out)
	}
	l.mu.Lock()
	l.nss = append(l.nss, full)
	l.mu.Unlock()
	err := <-l.Go(full, func() error {
		for _, f := range []string{"all", "default"} {
			// /proc/sys/net is the namespace of the thread that opens it.
			err := os.WriteFile("/proc/sys/net/ipv6/conf/"+f+"/accept_dad", []byte("0"), 0o644)
			if err != nil && !errors.Is(err, fs.ErrNotExist) { // no IPv6: nothing to detect
				return fmt.Errorf("accept_dad: %w", err)
			}
		}
		return LinkUp("lo")
	})
	if err != nil {
		return full, fmt.Errorf("namespace %s: %w", full, err)
	}
	return full, nil
}

// In runs a command inside namespace ns and returns its output.
func (l *Lab) In(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Batch runs ip's commands in script (one a line, "addr add ..." without
// the leading ip) inside namespace ns, in one ip process.
func (l *Lab) Batch(ns, script string) error {
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip -n %s -batch: %v: %s", ns, err, out)
	}
	return nil
}

// Go runs fn in the named network namespace on a goroutine locked to its
// own thread and returns a channel with fn's result. Sockets and netlink
// handles fn opens live in ns, and stay there when used from other
// goroutines; processes fn starts with os/exec start there too (Go forks
// them from the calling thread). The thread is never unlocked: it exits
// with the goroutine, and leaves the namespace with it.
func (l *Lab) Go(ns string, fn func() error) <-chan error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		h, err := netns.GetFromName(ns)
		if err != nil {
			done <- fmt.Errorf("namespace %s: %w", ns, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			done <- fmt.Errorf("enter namespace %s: %w", ns, err)
			return
		}
		done <- fn()
	}()
	return done
}

// InFresh runs fn in a fresh anonymous network namespace with lo up, on a
// goroutine locked to its own thread, and returns fn's result. As with
// Go, what fn opens or starts stays in that namespace, which goes away
// when the last of it is closed. Without lo up the kernel rejects IPVS
// realservers as not unicast.
func InFresh(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		h, err := netns.New()
		if err != nil {
			errc <- fmt.Errorf("new netns: %w", err)
			return
		}
		defer h.Close()
		if err := LinkUp("lo"); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// LinkUp sets the named link up in the calling thread's namespace (from
// a function run by Go or InFresh).
func LinkUp(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("link %s up: %w", name, err)
	}
	return nil
}

// Write puts a file in Dir (name may hold directories) and returns its
// path.
func (l *Lab) Write(name, body string) (string, error) {
	path := filepath.Join(l.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, []byte(body), 0o644)
}

// Mkdir makes the directory name in Dir and returns its path.
func (l *Lab) Mkdir(name string) (string, error) {
	path := filepath.Join(l.Dir, name)
	return path, os.MkdirAll(path, 0o755)
}

// Poll calls cond every interval until it holds, and returns how long
// that took and true; or, once limit has passed, false.
func Poll(limit, every time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			return time.Since(start), false
		}
		time.Sleep(every)
	}
	return time.Since(start), true
}

// onClose registers fn to run at Close, after the processes are gone and
// before the namespaces are.
func (l *Lab) onClose(fn func()) {
	l.mu.Lock()
	l.closers = append(l.closers, fn)
	l.mu.Unlock()
}

// Close kills every started process, closes every listener and handle,
// and deletes every namespace (which takes its links with it).
func (l *Lab) Close() {
	l.mu.Lock()
	procs, closers, nss := l.procs, l.closers, l.nss
	l.procs, l.closers, l.nss, l.handles = nil, nil, nil, map[string]*netlink.Handle{}
	l.mu.Unlock()
	for _, p := range procs {
		p.Kill()
		<-p.done
	}
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}
	for i := len(nss) - 1; i >= 0; i-- {
		_ = exec.Command("ip", "netns", "del", nss[i]).Run()
	}
}
