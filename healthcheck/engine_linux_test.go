package healthcheck

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// engineCheck makes one connect on a fresh engine and returns its result.
func engineCheck(t testing.TB, target netip.AddrPort, source netip.Addr, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan error, 1)
	g, err := newConnEngine(ctx, func(_ connReq, err error) { results <- err })
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); g.wait() }()
	spec, err := newDialSpec(target, source, timeout)
	if err != nil {
		t.Fatal(err)
	}
	g.start(tagged{spec, nil})
	select {
	case err := <-results:
		return err
	case <-time.After(timeout + 2*time.Second):
		t.Fatalf("no result within %v", timeout+2*time.Second)
		return nil
	}
}

// fullListener is a TCP port on 127.0.0.1 whose accept queue is full, so
// the kernel drops further SYNs: a connect to it times out.
func fullListener(t testing.TB) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil { // room for one connection
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	c, err := net.DialTimeout("tcp", addr.String(), time.Second) // fills the queue
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return addr
}

// timeoutDigits masks the measured duration in a timeout's detail.
var timeoutDigits = regexp.MustCompile(`timeout after [0-9.]+m?s`)

// sameFailure asserts that the engine classified a connect as TCP.Check
// did: same reason, same detail (but for the time a timeout took).
func sameFailure(t *testing.T, engine, dial error) {
	t.Helper()
	if (engine == nil) != (dial == nil) {
		t.Fatalf("engine: %v; net.Dial: %v", engine, dial)
	}
	if engine == nil {
		return
	}
	if ReasonOf(engine) != ReasonOf(dial) {
		t.Errorf("reason %q (%v), net.Dial's %q (%v)", ReasonOf(engine), engine, ReasonOf(dial), dial)
	}
	e, d := timeoutDigits.ReplaceAllString(engine.Error(), "timeout"), timeoutDigits.ReplaceAllString(dial.Error(), "timeout")
	if e != d {
		t.Errorf("detail %q, net.Dial's %q", engine, dial)
	}
}

func TestConnEngineMatchesTCP(t *testing.T) {
	open, _ := tcpServer(t, "127.0.0.1", func(net.Conn) {})
	closed := closedPort(t, "tcp", "127.0.0.1")
	tests := []struct {
		name    string
		target  netip.AddrPort
		source  netip.Addr
		timeout time.Duration
		reason  Reason
	}{
		{"success", open, netip.Addr{}, time.Second, ""},
		{"refused", closed, netip.Addr{}, time.Second, ReasonRefused},
		{"timeout", fullListener(t), netip.Addr{}, 200 * time.Millisecond, ReasonTimeout},
		{"source not local", open, netip.MustParseAddr("192.0.2.1"), time.Second, ReasonLocal},
		{"mapped IPv4", netip.AddrPortFrom(netip.AddrFrom16(open.Addr().As16()), open.Port()), netip.Addr{}, time.Second, ""},
		{"mapped IPv4 refused", netip.AddrPortFrom(netip.AddrFrom16(closed.Addr().As16()), closed.Port()), netip.Addr{}, time.Second, ReasonRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			within(t, tt.timeout+500*time.Millisecond, func() { err = engineCheck(t, tt.target, tt.source, tt.timeout) })
			if ReasonOf(err) != tt.reason {
				t.Fatalf("result %v, want reason %q", err, tt.reason)
			}
			ctx := checkCtx(t, tt.timeout)
			sameFailure(t, err, NewTCP(Spec{Source: tt.source}).Check(ctx, tt.target))
		})
	}
	t.Run("source", func(t *testing.T) {
		src := netip.MustParseAddr("127.0.0.2")
		open, peers := tcpServer(t, "127.0.0.1", func(net.Conn) {})
		if err := engineCheck(t, open, src, time.Second); err != nil {
			t.Skipf("cannot bind %v here: %v", src, err)
		}
		if p := <-peers; netip.MustParseAddrPort(p).Addr() != src {
			t.Errorf("server saw the check from %s, want %v", p, src)
		}
	})
}

func TestConnEngineIPv6(t *testing.T) {
	haveIPv6(t)
	open, _ := tcpServer(t, "::1", func(net.Conn) {})
	if err := engineCheck(t, open, netip.Addr{}, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := engineCheck(t, open, netip.MustParseAddr("::1"), time.Second); err != nil {
		t.Fatalf("from ::1: %v", err)
	}
	closed := closedPort(t, "tcp", "::1")
	err := engineCheck(t, closed, netip.Addr{}, time.Second)
	wantFail(t, err, ReasonRefused, "connect "+closed.String()+": refused")
	sameFailure(t, err, NewTCP(Spec{}).Check(checkCtx(t, time.Second), closed))
}

func TestConnEngineMany(t *testing.T) {
	open, _ := tcpServer(t, "127.0.0.1", func(net.Conn) {})
	closed := closedPort(t, "tcp", "127.0.0.1")
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		i   int
		err error
	}
	results := make(chan result, 1000)
	g, err := newConnEngine(ctx, func(q connReq, err error) { results <- result{q.(tagged).tag.(int), err} })
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer func() { cancel(); g.wait() }()
	specs := map[bool]dialSpec{}
	for _, ok := range []bool{true, false} {
		target := map[bool]netip.AddrPort{true: open, false: closed}[ok]
		if specs[ok], err = newDialSpec(target, netip.Addr{}, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var reqs []connReq
	for i := range 300 { // more than startChunk, in one batch
		reqs = append(reqs, tagged{specs[i%3 != 0], i})
	}
	g.start(reqs...)
	seen := map[int]bool{}
	for range 300 {
		select {
		case r := <-results:
			if seen[r.i] {
				t.Fatalf("connect %d reported twice", r.i)
			}
			seen[r.i] = true
			if want := map[bool]Reason{true: "", false: ReasonRefused}[r.i%3 != 0]; ReasonOf(r.err) != want {
				t.Errorf("connect %d: %v, want reason %q", r.i, r.err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of 300 results", len(seen))
		}
	}
}

func TestConnEngineStops(t *testing.T) {
	full := fullListener(t)
	open, _ := tcpServer(t, "127.0.0.1", func(net.Conn) {})
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan any, 10)
	g, err := newConnEngine(ctx, func(q connReq, err error) { results <- q.(tagged).tag })
	if err != nil {
		t.Fatal(err)
	}
	hang, err := newDialSpec(full, netip.Addr{}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	quick, err := newDialSpec(open, netip.Addr{}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The engine begins connects in order: once the quick one is reported,
	// the two before it are in flight.
	g.start(tagged{hang, "hang"}, tagged{hang, "hang"}, tagged{quick, "quick"})
	select {
	case tag := <-results:
		if tag != "quick" {
			t.Fatalf("%v reported, want the quick connect", tag)
		}
	case <-time.After(guard):
		t.Fatal("the quick connect was not reported")
	}
	within(t, time.Second, func() {
		cancel()
		g.wait()
	})
	g.start(tagged{hang, "after"}) // after the end: nothing
	// Only the engine's goroutine reports, and it has ended.
	select {
	case tag := <-results:
		t.Errorf("a connect cut short by the stop was reported: %v", tag)
	default:
	}
}

func TestDialSpec(t *testing.T) {
	if _, err := newDialSpec(netip.MustParseAddrPort("[fe80::1%lo]:80"), netip.Addr{}, time.Second); err == nil {
		t.Error("a scoped address was accepted: it is left to net.Dial")
	}
	s, err := newDialSpec(netip.MustParseAddrPort("[::ffff:192.0.2.1]:80"), netip.Addr{}, time.Second)
	var sa sockaddrs
	if family, target, _ := s.fill(&sa); err != nil || family != unix.AF_INET || target != &sa.v4 || sa.v4.Addr != [4]byte{192, 0, 2, 1} {
		t.Errorf("mapped address: %+v, %v; want IPv4 192.0.2.1:80", s, err)
	}
	// Each errno the kernel gives a connect reads as net.Dial's does.
	target := netip.MustParseAddrPort("192.0.2.1:80")
	s, _ = newDialSpec(target, netip.Addr{}, time.Second)
	for _, errno := range []syscall.Errno{unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH,
		unix.ETIMEDOUT, unix.EADDRNOTAVAIL, unix.EACCES, unix.EPERM, unix.ECONNRESET, unix.EMFILE} {
		dial := &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(target), Err: os.NewSyscallError("connect", errno)}
		want := classify(context.Background(), time.Now(), "connect", target.String(), dial)
		got := s.failure(time.Now(), "connect", errno)
		if got.Reason != want.Reason || got.Detail != want.Detail {
			t.Errorf("%v: %q %q, want %q %q", errno, got.Reason, got.Detail, want.Reason, want.Detail)
		}
	}
}

// TestConnEngineRoutes compares the engine with net.Dial where a route
// says no: in a network namespace of its own (a child process of this
// test), with lo down (no route at all) and with unreachable and
// prohibit routes.
func TestConnEngineRoutes(t *testing.T) {
	if os.Getenv("LVSD_TEST_NETNS_CHILD") == "" {
		if os.Geteuid() != 0 {
			t.Skip("needs root: runs in a network namespace of its own")
		}
		if _, err := exec.LookPath("ip"); err != nil {
			t.Skip("needs the ip command")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestConnEngineRoutes$", "-test.v")
		cmd.Env = append(os.Environ(), "LVSD_TEST_NETNS_CHILD=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("in a new namespace: %v\n%s", err, out)
		}
		t.Logf("in a new namespace:\n%s", out)
		return
	}
	cases := []struct {
		setup  []string
		target string
		reason Reason
	}{
		{nil, "192.0.2.1:80", ReasonUnreachable}, // lo down: no route
		{[]string{"link set lo up", "route add unreachable 198.51.100.0/24"}, "198.51.100.1:80", ReasonUnreachable},
		{[]string{"route add prohibit 203.0.113.0/24"}, "203.0.113.1:80", ReasonLocal},
		{[]string{"-6 route add unreachable 2001:db8::/32"}, "[2001:db8::1]:80", ReasonUnreachable},
	}
	for _, c := range cases {
		for _, s := range c.setup {
			if out, err := exec.Command("sh", "-c", "ip "+s).CombinedOutput(); err != nil {
				t.Fatalf("ip %s: %v: %s", s, err, out)
			}
		}
		target := netip.MustParseAddrPort(c.target)
		err := engineCheck(t, target, netip.Addr{}, time.Second)
		if ReasonOf(err) != c.reason {
			t.Errorf("%v: %v, want reason %q", target, err, c.reason)
		}
		sameFailure(t, err, NewTCP(Spec{}).Check(checkCtx(t, time.Second), target))
	}
}

func TestRunnerShutdownWithConnectsInFlight(t *testing.T) {
	full := fullListener(t)
	before := runtime.NumGoroutine()
	h := newHarness(t, nil, WithFactory(New)) // connect-only checks: on the engine
	var ts []Target
	for i := range 50 {
		// A minute on the fake clock, and as a connect timeout in real
		// time: no connect can end before Shutdown.
		c := Spec{Type: "tcp", Port: int(full.Port()), Interval: time.Minute, Timeout: time.Minute, Rise: 1, Fall: 1}
		ts = append(ts, Target{fmt.Sprint("s", i), full, &c})
	}
	if _, err := h.setOnly(ts...); err != nil {
		t.Fatal(err)
	}
	// Every check starts (those of the first batch at Set, the others at
	// the first tick) and is skipped at the next tick: still connecting.
	h.tick()
	h.tick()
	for inFlight := map[string]bool{}; len(inFlight) < len(ts); {
		r := h.next()
		if !r.Skipped {
			t.Fatalf("%+v: a connect to the full listener ended", r)
		}
		inFlight[r.Service] = true
	}
	within(t, 300*time.Millisecond, func() {
		if err := h.r.Shutdown(); err != nil {
			t.Error(err)
		}
	})
	// gocron's Shutdown returns while its own goroutines are still on
	// their way out, and nothing tells when they are gone: this one wait
	// polls.
	for deadline := time.Now().Add(guard); runtime.NumGoroutine() > before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before Shutdown\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
	}
}

// BenchmarkConnEngine makes connect-only checks in batches of 100 against
// a loopback listener in this process (whose accepts count too), as the
// Runner's batches do; compare BenchmarkTCPCheck, one net.Dial at a time.
func BenchmarkConnEngine(b *testing.B) {
	target, _ := tcpServer(b, "127.0.0.1", func(net.Conn) {})
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan error, 100)
	g, err := newConnEngine(ctx, func(_ connReq, err error) { results <- err })
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); g.wait() }()
	spec, err := newDialSpec(target, netip.Addr{}, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]connReq, 100)
	for i := range batch {
		batch[i] = tagged{spec, nil}
	}
	b.ReportAllocs()
	for b.Loop() {
		g.start(batch...)
		for range batch {
			if err := <-results; err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/connect")
}

// tagged is a connect request for the engine's tests: a dialSpec and a
// tag to tell its result by.
type tagged struct {
	spec dialSpec
	tag  any
}

func (q tagged) dial() dialSpec { return q.spec }
