//go:build linux

package vrrp

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeDirectConn is a fakeConn whose messages wait in a datagram
// socketpair, so that the direct loop's ppoll sees them as it sees a raw
// socket's.
type fakeDirectConn struct {
	*fakeConn
	rd, wr int
	mu     sync.Mutex
	meta   []Received // of each datagram written, in order
}

func newFakeDirectConn(t *testing.T, c *fakeConn) *fakeDirectConn {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return &fakeDirectConn{fakeConn: c, rd: fds[0], wr: fds[1]}
}

func (c *fakeDirectConn) recvFD() int { return c.rd }

func (c *fakeDirectConn) TryReadFrom(b []byte) (Received, bool, error) {
	n, err := unix.Read(c.rd, b)
	if err == unix.EAGAIN {
		return Received{}, false, nil
	}
	if err != nil {
		return Received{}, false, err
	}
	c.mu.Lock()
	r := c.meta[0]
	c.meta = c.meta[1:]
	c.mu.Unlock()
	r.Len = n
	return r, true, nil
}

// put queues p in the socket.
func (c *fakeDirectConn) put(t *testing.T, p fakePkt) {
	c.mu.Lock()
	c.meta = append(c.meta, p.r)
	c.mu.Unlock()
	if _, err := unix.Write(c.wr, p.b); err != nil {
		t.Fatal(err)
	}
}

// newDirectHarness is a harness whose Node runs the direct loop on the
// fake clock; beforeWait, when set, runs on the loop just before each of
// its waits.
func newDirectHarness(t *testing.T, beforeWait *atomic.Pointer[func(next time.Time)]) (*harness, *fakeDirectConn) {
	t.Helper()
	h := newHarness(t, nodeConfig())
	dc := newFakeDirectConn(t, h.conn)
	h.n.conn = dc
	h.n.directAnyClock = true
	h.n.idle = func(next time.Time) {
		if f := beforeWait.Load(); f != nil {
			(*f)(next)
		}
		h.idle <- next
	}
	return h, dc
}

// advanceDirect moves the clock to each deadline up to d ahead and wakes
// the direct loop's wait for it.
func (h *harness) advanceDirect(d time.Duration) {
	h.t.Helper()
	target := h.clk.Now().Add(d)
	for !h.next.IsZero() && !h.next.After(target) {
		h.clk.set(h.next)
		h.n.kw.ring()
		h.waitIdle()
	}
	h.clk.set(target)
}

// TestDirectLoop runs a backup on the direct loop: it reads the master's
// adverts from its socket itself, serves admin calls through the relay,
// takes over once the master is silent for Master_Down_Interval, and
// stops when its context ends.
func TestDirectLoop(t *testing.T) {
	var hook atomic.Pointer[func(time.Time)]
	h, dc := newDirectHarness(t, &hook)
	h.run()
	if h.n.kw == nil {
		t.Fatal("the Node runs the channel loop, want the direct loop")
	}
	dc.put(t, h.packet(Advert{Priority: 200}, peerHigh, MulticastIPv4))
	h.waitIdle()
	if s := h.n.Status(); s.State != Backup || s.Master != peerHigh {
		t.Fatalf("after the master's advert: %v following %v, want BACKUP following %v", s.State, s.Master, peerHigh)
	}
	if err := h.n.call(context.Background(), func() {}); err != nil { // through the relay
		t.Fatalf("admin call: %v", err)
	}
	h.waitIdle()
	h.advanceDirect(time.Second)
	if s := h.n.Status(); s.State != Master {
		t.Fatalf("after 1s of silence: %v, want MASTER", s.State)
	}
	if err := h.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestDirectLoopLateAdvertFirst is TestNodeLateLoopHandlesAdvertFirst
// for the direct loop: the loop starts its wait past the backup's
// Master_Down_Timer with the master's advert waiting in the socket, and
// handles the advert first, so the backup stays backup.
func TestDirectLoopLateAdvertFirst(t *testing.T) {
	var hook atomic.Pointer[func(time.Time)]
	h, dc := newDirectHarness(t, &hook)
	h.run()
	dc.put(t, h.packet(Advert{Priority: 200}, peerHigh, MulticastIPv4))
	h.waitIdle()
	for round := range 20 {
		var once atomic.Bool
		late := func(next time.Time) {
			if once.CompareAndSwap(false, true) {
				dc.put(t, h.packet(Advert{Priority: 200}, peerHigh, MulticastIPv4))
				h.clk.set(next.Add(time.Millisecond))
			}
		}
		hook.Store(&late)
		h.n.kw.ring() // one more turn: the hook runs before its wait
		h.waitIdle()
		h.waitIdle() // after the advert (and the timer, which found nothing due)
		hook.Store(nil)
		if s := h.n.Status(); s.State != Backup || s.Counters.Transitions != 1 {
			t.Fatalf("round %d: %v after %d transitions, want BACKUP after 1 (startup)", round, s.State, s.Counters.Transitions)
		}
	}
	h.expectOps()
}
