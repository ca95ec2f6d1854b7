package director

import (
	"bytes"
	"net/netip"
	"os"
	"sync"
	"time"

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

func (f *fakeSync) Stop(role ipvs.SyncRole) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.running, role)
	return nil
}

// fakeHandover records flushes and holds instead of touching the kernel.
type fakeHandover struct {
	mu      sync.Mutex
	flushes []time.Time
	holds   []holdCall
	closed  bool
}

type holdCall struct {
	h rstguard.Holds
	d time.Duration
}

func (f *fakeHandover) Flush(*config.Config) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes = append(f.flushes, time.Now())
	return 1, nil
}

func (f *fakeHandover) Hold(h rstguard.Holds, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holds = append(f.holds, holdCall{h, d})
	return nil
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
