//go:build integration && !ipvs

package integration

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lvsd/lvsd/integration/netlab"
)

// farm runs directors from the files in examples/ on one segment (their
// interface is eth0), each in its namespace with lvsd --ipvs=memory: real
// VRRP, in-memory IPVS, so this runs on kernels without IPVS.
type farm struct {
	l      *netlab.T
	bin    string
	ns     map[string]string // by director: a, b, c
	config map[string]string
	sock   map[string]string
	proc   map[string]*netlab.Proc
	vips   []netip.Addr
}

// newFarm plugs each director (name to address) into the segment and
// copies its example main file (relative to examples/) into the lab.
func newFarm(t *testing.T, hosts, examples map[string]string, vips ...string) *farm {
	f := &farm{l: netlab.ForTest(t), bin: lvsdBinary(t), config: map[string]string{}, sock: map[string]string{},
		proc: map[string]*netlab.Proc{}}
	f.ns = f.l.Segment("eth0", hosts)
	for _, v := range vips {
		f.vips = append(f.vips, netip.MustParseAddr(v))
	}
	for name, ex := range examples {
		f.config[name], f.sock[name] = fromExample(t, f.l, name, filepath.Join("../examples", ex))
	}
	return f
}

// fromExample writes the example main file for director name into the
// lab, as it is but for what a lab needs: its control socket (and so its
// state files) in the lab, no HTTP listener, the example's own services.d
// (absolute, so links in it resolve), and preemption on priority alone.
func fromExample(t *testing.T, l *netlab.T, name, example string) (config, sock string) {
	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", example, err)
	}
	sock = filepath.Join(l.Dir, name, "ctl.sock")
	dir, err := filepath.Abs(filepath.Join(filepath.Dir(example), "services.d"))
	if err != nil {
		t.Fatal(err)
	}
	m["control"] = map[string]any{"socket": sock}
	m["http"] = map[string]any{"listen": ""}
	m["services_dir"] = dir
	// The lab has no realservers: their checks fail, and a director back
	// from a restart would hold its preemption for ever
	// (preempt_needs_realservers). These tests are about who holds which
	// VIP, so they preempt on priority alone.
	if vrrp, ok := m["vrrp"].(map[string]any); ok {
		if ins, ok := vrrp["instances"].([]any); ok {
			for _, in := range ins {
				if in, ok := in.(map[string]any); ok {
					in["preempt_needs_realservers"] = false
				}
			}
		}
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return l.Write(name+"/lvsd.yaml", string(out)), sock
}

func (f *farm) start(name string) {
	f.l.TB.Helper()
	f.proc[name] = f.l.Start(f.ns[name], fmt.Sprintf("lvsd-%s-%d", name, time.Now().UnixNano()),
		f.bin, "run", "--ipvs=memory", "-c", f.config[name])
	waitUp(f.l.TB, f.sock[name])
}

// kill is the director's machine dying: lvsd killed, its link down.
func (f *farm) kill(name string) {
	f.proc[name].Kill()
	<-f.proc[name].Exited()
	f.l.SetLink(f.ns[name], "eth0", false)
}

// revive is the machine back from a reboot: no VIP left on its
// interface, the link up, lvsd started.
func (f *farm) revive(name string) {
	f.l.TB.Helper()
	for _, v := range f.vips {
		if f.l.HasAddr(f.ns[name], "eth0", v) {
			f.l.In(f.ns[name], "ip", "addr", "del", v.String()+"/24", "dev", "eth0")
		}
	}
	f.l.SetLink(f.ns[name], "eth0", true)
	f.start(name)
}

// holders maps each VIP to the directors that hold it on a live link,
// sorted; "" when none does.
func (f *farm) holders() map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for _, v := range f.vips {
		var hs []string
		for name, ns := range f.ns {
			if f.l.LinkIsUp(ns, "eth0") && f.l.HasAddr(ns, "eth0", v) {
				hs = append(hs, name)
			}
		}
		slices.Sort(hs)
		out[v] = strings.Join(hs, "+")
	}
	return out
}

func (f *farm) logs() string {
	var b strings.Builder
	entries, _ := os.ReadDir(f.l.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "lvsd-") {
			fmt.Fprintf(&b, "== %s\n%s", e.Name(), f.l.LogOf(strings.TrimSuffix(e.Name(), ".log")))
		}
	}
	return b.String()
}

// watch samples the holders every 20 ms until stop, and the phases of a
// scenario: a fault window from an action until the wanted holders are
// seen, then a steady span in which they must not change.
type watch struct {
	f       *farm
	mu      sync.Mutex
	samples []sample
	windows [][2]time.Time
	steady  []steady
	stop    chan struct{}
	done    chan struct{}
}

type sample struct {
	at      time.Time
	holders map[netip.Addr]string
}

type steady struct {
	from time.Time
	want map[netip.Addr]string
}

func (f *farm) watch() *watch {
	w := &watch{f: f, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			s := sample{at: time.Now(), holders: f.holders()}
			w.mu.Lock()
			w.samples = append(w.samples, s)
			w.mu.Unlock()
		}
	}()
	f.l.TB.Cleanup(w.end)
	return w
}

func (w *watch) end() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// phase does act and waits until the holders are want ("a" holds .10,
// "b" .20); from then until the next phase they must stay so.
func (w *watch) phase(what string, act func(), want map[string]string) {
	w.f.l.TB.Helper()
	wantH := map[netip.Addr]string{}
	for v, h := range want {
		wantH[netip.MustParseAddr(v)] = h
	}
	start := time.Now()
	act()
	took := w.f.l.WaitFor(15*time.Second, what+": holders "+fmt.Sprint(want),
		func() bool { return maps.Equal(w.f.holders(), wantH) },
		func() string { return fmt.Sprintf("holders %v\n%s", w.f.holders(), w.f.logs()) })
	end := time.Now()
	w.mu.Lock()
	w.windows = append(w.windows, [2]time.Time{start, end})
	w.steady = append(w.steady, steady{from: end, want: wantH})
	w.mu.Unlock()
	w.f.l.TB.Logf("%s: settled after %v", what, took.Round(time.Millisecond))
	time.Sleep(time.Second) // a steady span of about 50 samples
}

// check ends the sampling and fails for every sample outside the fault
// windows whose holders differ from the phase's: two holders of a VIP,
// none, or another than wanted.
func (w *watch) check() {
	w.f.l.TB.Helper()
	w.end()
	w.mu.Lock()
	defer w.mu.Unlock()
	bad, checked, doubles := 0, 0, 0
	for _, s := range w.samples {
		var cur *steady
		inWindow := false
		for i, win := range w.windows {
			if !s.at.Before(win[0]) && !s.at.After(win[1]) {
				inWindow = true
			}
			if !s.at.Before(w.steady[i].from) {
				cur = &w.steady[i]
			}
		}
		if inWindow {
			for _, h := range s.holders {
				if strings.Contains(h, "+") {
					doubles++
				}
			}
		}
		if inWindow || cur == nil {
			continue
		}
		checked++
		if !maps.Equal(s.holders, cur.want) {
			if bad++; bad <= 5 {
				w.f.l.TB.Errorf("at %s, outside a fault: holders %v, want %v", s.at.Format("15:04:05.000"), s.holders, cur.want)
			}
		}
	}
	w.f.l.TB.Logf("%d samples: %d steady, %d VIP samples with two holders inside fault windows", len(w.samples), checked, doubles)
	if checked < 100 {
		w.f.l.TB.Errorf("only %d samples outside the fault windows: the watch saw too little", checked)
	}
	if bad > 0 {
		w.f.l.TB.Errorf("%d of %d steady samples wrong\n%s", bad, checked, w.f.logs())
	}
}

// TestActiveActiveExample runs examples/active-active: each director is
// master of its own VIP; either one dying leaves the other holding both;
// back, it preempts its own VIP (after preempt_delay) and only that one.
func TestActiveActiveExample(t *testing.T) {
	f := newFarm(t, map[string]string{"a": "192.0.2.1/24", "b": "192.0.2.2/24"},
		map[string]string{"a": "active-active/director-a.yaml", "b": "active-active/director-b.yaml"},
		"192.0.2.10", "192.0.2.20")
	w := f.watch()
	w.phase("both start", func() { f.start("a"); f.start("b") }, map[string]string{"192.0.2.10": "a", "192.0.2.20": "b"})
	w.phase("a dies", func() { f.kill("a") }, map[string]string{"192.0.2.10": "b", "192.0.2.20": "b"})
	w.phase("a is back", func() { f.revive("a") }, map[string]string{"192.0.2.10": "a", "192.0.2.20": "b"})
	w.phase("b dies", func() { f.kill("b") }, map[string]string{"192.0.2.10": "a", "192.0.2.20": "a"})
	w.phase("b is back", func() { f.revive("b") }, map[string]string{"192.0.2.10": "a", "192.0.2.20": "b"})
	w.check()
}

// TestThreeHostsExample runs examples/three-hosts: A and B hold their own
// VIPs and C neither; C takes A's when A dies, and B's too when B dies;
// A back takes its VIP from C, and C keeps B's.
func TestThreeHostsExample(t *testing.T) {
	f := newFarm(t, map[string]string{"a": "192.0.2.1/24", "b": "192.0.2.2/24", "c": "192.0.2.3/24"},
		map[string]string{"a": "three-hosts/a/lvsd.yaml", "b": "three-hosts/b/lvsd.yaml", "c": "three-hosts/c/lvsd.yaml"},
		"192.0.2.10", "192.0.2.20")
	w := f.watch()
	w.phase("all start", func() { f.start("c"); f.start("a"); f.start("b") }, map[string]string{"192.0.2.10": "a", "192.0.2.20": "b"})
	w.phase("a dies", func() { f.kill("a") }, map[string]string{"192.0.2.10": "c", "192.0.2.20": "b"})
	w.phase("b dies too", func() { f.kill("b") }, map[string]string{"192.0.2.10": "c", "192.0.2.20": "c"})
	w.phase("a is back", func() { f.revive("a") }, map[string]string{"192.0.2.10": "a", "192.0.2.20": "c"})
	w.phase("b is back", func() { f.revive("b") }, map[string]string{"192.0.2.10": "a", "192.0.2.20": "b"})
	w.check()
}
