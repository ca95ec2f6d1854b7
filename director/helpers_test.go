package director

import (
	"bytes"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover/rstguard"
	"github.com/lvsd/lvsd/director/ipvs"
)

type noHost struct{}

func (noHost) Hostname() (string, error)                  { return "h", nil }
func (noHost) InterfaceAddrs(string) ([]netip.Addr, bool) { return nil, false }

func testOptions() config.Options { return config.Options{Host: noHost{}} }

// syncWriter lets the test read logs written by the daemon's goroutines.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// offSysctls is a kernel with every setting off and nothing writable.
type offSysctls struct{}

func (offSysctls) Get(string) (string, error) { return "0", nil }
func (offSysctls) Set(string, string) error   { return os.ErrPermission }

// fakeSync records the sync daemons started.
type fakeSync struct {
	mu      sync.Mutex
	running map[ipvs.SyncRole]string
}

func (f *fakeSync) Start(role ipvs.SyncRole, iface string, _ uint8) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running == nil {
		f.running = map[ipvs.SyncRole]string{}
	}
	f.running[role] = iface
	return nil
}

// on returns the interface the role's daemon runs on, if it runs.
func (f *fakeSync) on(role ipvs.SyncRole) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	iface, ok := f.running[role]
	return iface, ok
}

func (f *fakeSync) Stop(role ipvs.SyncRole) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.running, role)
	return nil
}

// fakeHandover records flushes and holds instead of touching the kernel.
type fakeHandover struct {
	now     func() time.Time // stamps flushes; nil: time.Now
	called  chan string      // if set, hears "flush" and "hold" after each call
	block   chan struct{}    // if set, each Flush waits for a receive on it
	mu      sync.Mutex
	flushes []time.Time
	holds   []holdCall
	relays  []relayCall
	order   []string // "flush", "hold" and "relay", in the order called
	closed  bool
	// sweep, if set, is what each Sweep does (it may advance a fake
	// clock, to take time); swept, if set, hears each Sweep's result.
	sweep  func(backup func() bool) (int, error)
	swept  chan int
	sweeps int
}

func (f *fakeHandover) tell(what string) {
	if f.called != nil {
		f.called <- what
	}
}

type holdCall struct {
	h rstguard.Holds
	d time.Duration
}

func (f *fakeHandover) Flush(*config.Config) (int, error) {
	if f.block != nil {
		<-f.block
	}
	now := time.Now
	if f.now != nil {
		now = f.now
	}
	f.mu.Lock()
	f.flushes = append(f.flushes, now())
	f.order = append(f.order, "flush")
	f.mu.Unlock()
	f.tell("flush")
	return 1, nil
}

func (f *fakeHandover) Hold(h rstguard.Holds, d time.Duration) error {
	f.mu.Lock()
	f.holds = append(f.holds, holdCall{h, d})
	f.order = append(f.order, "hold")
	f.mu.Unlock()
	f.tell("hold")
	return nil
}

func (f *fakeHandover) Relay(r rstguard.Relays, d time.Duration) error {
	f.mu.Lock()
	f.relays = append(f.relays, relayCall{r, d})
	f.order = append(f.order, "relay")
	f.mu.Unlock()
	return nil
}

type relayCall struct {
	r rstguard.Relays
	d time.Duration
}

func (f *fakeHandover) Sweep(_ *config.Config, backup func() bool) (int, error) {
	n, err := 0, error(nil)
	if f.sweep != nil {
		n, err = f.sweep(backup)
	}
	f.mu.Lock()
	f.sweeps++
	f.mu.Unlock()
	if f.swept != nil {
		f.swept <- n
	}
	return n, err
}

func (f *fakeHandover) Held() (uint64, error) { return 0, nil }

func (f *fakeHandover) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeHandover) snapshot() (flushes int, holds []holdCall, closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.flushes), append([]holdCall(nil), f.holds...), f.closed
}

// guard bounds a wait on the code under test: it fails the test instead of
// hanging it, and says nothing about how long anything should take.
const guard = 5 * time.Second

// afterClock is a fake clock that knows when the functions given to its
// AfterFunc have returned, so that a test can tell "the timer fired and
// did nothing" from "the timer has not fired yet" without sleeping.
type afterClock struct {
	*clockwork.FakeClock
	mu    sync.Mutex
	funcs []*afterFunc
}

type afterFunc struct {
	at   time.Time
	done chan struct{}
}

func newAfterClock() *afterClock { return &afterClock{FakeClock: clockwork.NewFakeClock()} }

// AfterFunc is the fake clock's, noting when f is due and when it returns.
func (c *afterClock) AfterFunc(d time.Duration, f func()) clockwork.Timer {
	a := &afterFunc{at: c.Now().Add(d), done: make(chan struct{})}
	c.mu.Lock()
	c.funcs = append(c.funcs, a)
	c.mu.Unlock()
	return c.FakeClock.AfterFunc(d, func() { defer close(a.done); f() })
}

// advance moves the clock by d and waits for every AfterFunc function that
// came due to return. (None of the code under test stops its timers.)
func (c *afterClock) advance(t *testing.T, d time.Duration) {
	t.Helper()
	c.Advance(d)
	now := c.Now()
	c.mu.Lock()
	due := slices.DeleteFunc(slices.Clone(c.funcs), func(a *afterFunc) bool { return a.at.After(now) })
	c.mu.Unlock()
	for _, a := range due {
		select {
		case <-a.done:
		case <-time.After(guard):
			t.Fatalf("a timer function due at %v has not returned", a.at)
		}
	}
}

// lifecycle hears the states a Director reports through Options.Lifecycle.
type lifecycle chan string

func newLifecycle() lifecycle { return make(lifecycle, 16) }

func (l lifecycle) report(state string) { l <- state }

// await takes the next states reported and fails the test unless they are
// want, in order.
func (l lifecycle) await(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-l:
			if got != w {
				t.Fatalf("lifecycle %q, want %q", got, w)
			}
		case <-time.After(guard):
			t.Fatalf("lifecycle: no %q", w)
		}
	}
}

// waitReconciled checks cond after each reconcile of d's IPVS table until
// it holds.
func waitReconciled(t *testing.T, d *Director, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(guard)
	for {
		next := d.dir.Reconciled() // before cond: a reconcile ending meanwhile closes it
		if cond() {
			return
		}
		select {
		case <-next:
		case <-timeout:
			t.Fatalf("no reconcile brought %s", what)
		}
	}
}
