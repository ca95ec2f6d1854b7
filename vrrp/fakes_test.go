package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// opLog records what the fakes were asked to do, in order, so that tests
// can check the order of actions across Conn, Addrs and Announcer.
type opLog struct {
	mu    sync.Mutex
	clock *fakeClock
	ops   []string
	times []time.Time
}

func (l *opLog) add(format string, args ...any) {
	l.mu.Lock()
	l.ops = append(l.ops, fmt.Sprintf(format, args...))
	l.times = append(l.times, l.clock.Now())
	l.mu.Unlock()
}

// take returns the operations since the last take.
func (l *opLog) take() []string {
	ops, _ := l.takeTimed()
	return ops
}

// takeTimed returns the operations since the last take and their times.
func (l *opLog) takeTimed() ([]string, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ops, times := l.ops, l.times
	l.ops, l.times = nil, nil
	return ops, times
}

// fakeConn is a Conn whose reads come from a channel; it records writes
// as "send PRIO to DST" after parsing them back.
type fakeConn struct {
	log    *opLog
	src    netip.Addr
	in     chan fakePkt
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	sent   []Advert
	err    error // returned by WriteTo when set
}

type fakePkt struct {
	b   []byte
	r   Received
	err error
}

func newFakeConn(log *opLog, src netip.Addr) *fakeConn {
	return &fakeConn{log: log, src: src, in: make(chan fakePkt), closed: make(chan struct{})}
}

func (c *fakeConn) ReadFrom(b []byte) (Received, error) {
	select {
	case p := <-c.in:
		if p.err != nil {
			return Received{}, p.err
		}
		r := p.r
		r.Len = copy(b, p.b)
		return r, nil
	case <-c.closed:
		return Received{}, fmt.Errorf("fake read: %w", net.ErrClosed)
	}
}

func (c *fakeConn) WriteTo(b []byte, dst netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	a, err := Parse(b, c.src, dst, ChecksumPseudoHeader)
	if err != nil {
		return fmt.Errorf("fake conn: we sent garbage: %w", err)
	}
	c.sent = append(c.sent, a)
	c.log.add("send %d to %v", a.Priority, dst)
	return nil
}

func (c *fakeConn) Source() netip.Addr { return c.src }

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// fakeAddrs is the interface's address set. Like the kernel it keeps one
// copy of each address; fail makes the next Adds of a prefix fail.
type fakeAddrs struct {
	log  *opLog
	mu   sync.Mutex
	have map[netip.Prefix]bool
	fail map[netip.Prefix]int
}

func newFakeAddrs(log *opLog) *fakeAddrs {
	return &fakeAddrs{log: log, have: map[netip.Prefix]bool{}, fail: map[netip.Prefix]int{}}
}

func (a *fakeAddrs) Add(p netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail[p] > 0 {
		a.fail[p]--
		a.log.add("add %v failed", p)
		return fmt.Errorf("fake add %v: no buffer space", p)
	}
	a.have[p] = true
	a.log.add("add %v", p)
	return nil
}

func (a *fakeAddrs) Remove(p netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.have, p)
	a.log.add("remove %v", p)
	return nil
}

func (a *fakeAddrs) holds(p netip.Prefix) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.have[p]
}

// fakeAnnouncer records announcements; each one "sends" two packets.
type fakeAnnouncer struct{ log *opLog }

func (a fakeAnnouncer) Announce(addr netip.Addr) (int, error) {
	a.log.add("announce %v", addr)
	return 2, nil
}

// fakeClock is a Clock that moves only when the test says so.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

// set moves the clock to t and fires the waiters due by then.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(t) {
			keep = append(keep, w)
			continue
		}
		w.ch <- t
	}
	c.waiters = keep
}

// fakeLinks is a linkSource the test drives; every link starts up unless
// listed in down.
type fakeLinks struct {
	down map[string]bool
	ch   chan<- linkState
}

func (l *fakeLinks) watch(names []string, ch chan<- linkState, done <-chan struct{}) (map[string]bool, error) {
	l.ch = ch
	init := map[string]bool{}
	for _, n := range names {
		init[n] = !l.down[n]
	}
	return init, nil
}

// harness runs a Node on fakes in lockstep with the test: the Node's idle
// hook hands the test the next deadline and waits until the test takes
// it, so after each event the test knows the Node is done with it.
type harness struct {
	t      *testing.T
	n      *Node
	log    *opLog
	clk    *fakeClock
	conn   *fakeConn
	addrs  *fakeAddrs
	links  *fakeLinks
	idle   chan time.Time
	next   time.Time
	cancel context.CancelFunc
	runErr chan error
	trans  chan Transition
	// startOps are the operations of starting.
	startOps []string
}

var (
	nodeSelf = netip.MustParseAddr("192.0.2.10")
	peerLow  = netip.MustParseAddr("192.0.2.5")
	peerHigh = netip.MustParseAddr("192.0.2.20")
	vip1     = netip.MustParsePrefix("192.0.2.100/24")
	vip2     = netip.MustParsePrefix("192.0.2.101/24")
)

// nodeConfig is a version 3 instance at priority 100 with two VIPs,
// advertising every 100ms, announcing 3 times 50ms apart.
func nodeConfig() InstanceConfig {
	return InstanceConfig{
		Name: "web", Interface: "eth0", VRID: 7, Priority: 100, Preempt: true,
		AdvertInterval: 100 * time.Millisecond, VIPs: []netip.Prefix{vip1, vip2},
		Announce: AnnounceConfig{Repeat: 3, Interval: 50 * time.Millisecond},
	}
}

func newHarness(t *testing.T, cfg InstanceConfig) *harness {
	t.Helper()
	return newHarnessDeps(t, cfg, Deps{})
}

// newHarnessDeps is newHarness with Deps fields beyond the fakes (for
// example ListenOnly).
func newHarnessDeps(t *testing.T, cfg InstanceConfig, deps Deps) *harness {
	t.Helper()
	clk := &fakeClock{now: t0}
	h := &harness{t: t, log: &opLog{clock: clk}, clk: clk, idle: make(chan time.Time),
		runErr: make(chan error, 1), trans: make(chan Transition, 100), links: &fakeLinks{down: map[string]bool{}}}
	h.conn = newFakeConn(h.log, nodeSelf)
	h.addrs = newFakeAddrs(h.log)
	deps.Conn, deps.Addrs, deps.Announcer, deps.Clock = h.conn, h.addrs, fakeAnnouncer{h.log}, h.clk
	deps.OnTransition = func(tr Transition) { h.trans <- tr }
	n, err := NewNode(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	n.links = h.links
	n.idle = func(next time.Time) { h.idle <- next }
	h.n = n
	return h
}

// run starts the Node and waits until it idles after starting.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.runErr <- h.n.Run(ctx) }()
	h.t.Cleanup(func() { h.stop() })
	h.waitIdle()
	h.startOps = h.log.take() // removal of leftover VIPs, see begin
}

// waitIdle waits until the Node has handled an event and idles again.
func (h *harness) waitIdle() {
	h.t.Helper()
	select {
	case h.next = <-h.idle:
	case err := <-h.runErr:
		h.runErr <- err
		h.t.Fatalf("node stopped instead of idling: %v", err)
	case <-time.After(10 * time.Second):
		h.t.Fatal("node did not idle within 10s")
	}
}

// advance moves the clock forward by d, letting the Node handle each of
// its deadlines on the way in order.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	target := h.clk.Now().Add(d)
	for !h.next.IsZero() && !h.next.After(target) {
		h.clk.set(h.next)
		h.waitIdle()
	}
	h.clk.set(target)
}

// runUntilStopped steps through the Node's deadlines, for at most limit,
// until Run returns.
func (h *harness) runUntilStopped(limit time.Duration) {
	h.t.Helper()
	end := h.clk.Now().Add(limit)
	for !h.next.IsZero() && !h.next.After(end) {
		h.clk.set(h.next)
		select {
		case h.next = <-h.idle:
		case err := <-h.runErr:
			h.runErr <- err
			return
		case <-time.After(10 * time.Second):
			h.t.Fatal("node neither idled nor stopped within 10s")
		}
	}
	h.t.Fatalf("node still running after %v", limit)
}

// stop cancels Run and returns its error, answering idles meanwhile and
// moving the clock to each deadline the stopping node waits for (a grace
// during which it keeps its VIPs).
func (h *harness) stop() error {
	h.cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case next := <-h.idle:
			if !next.IsZero() && next.After(h.clk.Now()) {
				go h.clk.set(next) // not here: the node may be sending to idle
			}
		case err := <-h.runErr:
			h.runErr <- err
			return err
		case <-deadline:
			h.t.Fatal("node did not stop within 10s")
		}
	}
}

// packet returns advert a from src as received with TTL 255.
func (h *harness) packet(a Advert, src, dst netip.Addr) fakePkt {
	h.t.Helper()
	if a.Version == 0 {
		a.Version, a.Type, a.VRID, a.Interval = 3, TypeAdvertisement, h.n.cfg.VRID, h.n.cfg.AdvertInterval
		for _, p := range h.n.cfg.VIPs {
			a.Addrs = append(a.Addrs, p.Addr())
		}
	}
	b, err := a.Marshal(src, dst, ChecksumPseudoHeader)
	if err != nil {
		h.t.Fatal(err)
	}
	return fakePkt{b: b, r: Received{Src: src, Dst: dst, TTL: 255}}
}

// recv delivers an advert of priority prio from src and waits until the
// Node has handled it.
func (h *harness) recvAdvert(prio uint8, src netip.Addr) {
	h.t.Helper()
	h.conn.in <- h.packet(Advert{Priority: prio}, src, MulticastIPv4)
	h.waitIdle()
}

// call runs f on the Node's goroutine, as admin calls do.
func (h *harness) call(f func()) {
	h.t.Helper()
	h.n.events <- f
	h.waitIdle()
}

// state returns the Machine's state, read on the Node's goroutine.
func (h *harness) state() State {
	var s State
	h.call(func() { s = h.n.m.State() })
	return s
}

// expectOps checks the operations since the last check.
func (h *harness) expectOps(want ...string) {
	h.t.Helper()
	got := h.log.take()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		h.t.Errorf("operations:\n got %q\nwant %q", got, want)
	}
}

// becomeMaster runs the Node from Backup to Master: nothing heard for
// Master_Down_Interval.
func (h *harness) becomeMaster() {
	h.t.Helper()
	h.advance(time.Second)
	if s := h.state(); s != Master {
		h.t.Fatalf("state %v after 1s of silence, want MASTER", s)
	}
	h.log.take()
}
