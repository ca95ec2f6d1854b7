package healthcheck

import (
	"container/heap"
	"context"
	"encoding/binary"
	"math"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// connEngine makes connect-only TCP checks with non-blocking sockets, in
// one goroutine waiting on one epoll instance. A check costs socket,
// (bind,) connect, epoll_ctl, getsockopt and close, as in a C loop: no
// goroutine, netpoller registration or timer of its own; its deadline
// sits in a heap that sets epoll_wait's timeout. The goroutine also makes
// the connects, handed over a batch at a time, so that a socket is
// created, waited for and closed on one thread, with its kernel state hot
// in that CPU's cache.
//
// A connection that succeeds is closed with SO_LINGER 0, that is with a
// RST instead of a FIN, as HAProxy closes its checks: at thousands of
// checks a second a FIN would leave the director holding a TIME_WAIT
// socket per check for a minute (beyond tcp_max_tw_buckets at 10,000
// checks a second), and it costs both kernels twice the packets. The
// realserver sees a connection reset before or just after it accepted
// it: a read returns ECONNRESET, which servers log at a low level if at
// all (nginx: info). ldirectord and keepalived close with a FIN; a check
// that must look like a client can do so by setting send or expect,
// which take the ordinary path.
type connEngine struct {
	epfd, evfd int
	report     func(req connReq, err error) // from the engine's goroutine only
	base       time.Time                    // origin of the deadlines' monotonic nanoseconds
	exited     chan struct{}

	mu sync.Mutex
	// pending are the batches start handed over, not yet taken by the
	// engine's goroutine. A batch is the caller's slice, not a copy, and
	// the engine drops it once it has begun its connects: a backlog of
	// 100,000 checks is held once (16 bytes each: what to connect to is
	// read from the request as its connect begins), and no buffer keeps
	// the size of the largest backlog ever seen.
	pending [][]connReq
	closed  bool

	// Owned by the engine's goroutine.
	inflight map[int32]*connOp // by socket
	timers   opHeap            // in-flight ops by deadline
	seq      uint32
	free     []*connOp
	sa       sockaddrs // the addresses of the connect being begun
}

// connReq is a connect to make, reported with its result: a Runner's
// *entry, whose dial says what to connect to.
type connReq interface{ dial() dialSpec }

// connOp is one connect in flight.
type connOp struct {
	fd       int32
	seq      uint32 // tells a stale epoll event from the socket's next user
	index    int    // in timers
	deadline int64  // ns since base
	start    time.Time
	spec     dialSpec
	req      connReq
}

// startChunk is how many connects the engine begins before it looks for
// results again, so that a large batch does not hold up the ones in flight.
const startChunk = 64

// newConnEngine starts an engine whose report receives each connect's
// request and result. The engine stops when ctx is done; connects pending or
// in flight are then closed and not reported.
func newConnEngine(ctx context.Context, report func(req connReq, err error)) (*connEngine, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	g := &connEngine{epfd: epfd, evfd: evfd, report: report, base: time.Now(), exited: make(chan struct{}),
		inflight: map[int32]*connOp{}}
	context.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		g.wake()
	})
	go g.run()
	return g, nil
}

// wait blocks until the engine's goroutine has ended (after ctx is done).
func (g *connEngine) wait() { <-g.exited }

// start hands connects over to the engine, which reports each one's
// result with its request. The engine reads reqs until it has begun every
// connect of it (it never writes to it): the caller must not change it
// before then, and may reuse it once every result is reported. After the
// engine stopped it does nothing.
func (g *connEngine) start(reqs ...connReq) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	idle := len(g.pending) == 0
	g.pending = append(g.pending, reqs)
	g.mu.Unlock()
	if idle {
		g.wake()
	}
}

// wake interrupts epoll_wait.
func (g *connEngine) wake() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(g.evfd, one[:]) // EAGAIN: a wake-up is already pending
}

// run is the engine's goroutine: begin what is pending, a chunk at a
// time, and finish what epoll reports or what timed out.
func (g *connEngine) run() {
	defer close(g.exited)
	events := make([]unix.EpollEvent, 256)
	var todo [][]connReq // batches taken from pending, the first maybe begun in part
	for {
		g.mu.Lock()
		closed := g.closed
		if len(todo) == 0 {
			todo, g.pending = g.pending, todo[:0]
		}
		g.mu.Unlock()
		if closed {
			g.shutdown()
			return
		}
		todo = g.beginChunk(todo)
		ms := 0
		if len(todo) == 0 {
			ms = g.timeout()
		}
		k, err := unix.EpollWait(g.epfd, events, ms)
		if err != nil {
			k = 0 // EINTR
		}
		g.reap(events[:k])
		g.expire()
	}
}

// beginChunk begins up to startChunk connects from the front of todo and
// returns what is left; a batch fully begun is dropped.
func (g *connEngine) beginChunk(todo [][]connReq) [][]connReq {
	for n := 0; n < startChunk && len(todo) > 0; {
		b := todo[0]
		k := min(len(b), startChunk-n)
		for _, r := range b[:k] {
			g.begin(r)
		}
		n += k
		if k < len(b) {
			todo[0] = b[k:]
			continue
		}
		todo[0] = nil // the batch is no longer held
		todo = todo[1:]
	}
	return todo
}

// begin creates the socket and starts the connect; a failure is reported
// at once.
func (g *connEngine) begin(r connReq) {
	now, s := time.Now(), r.dial()
	family, target, source := s.fill(&g.sa)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		g.report(r, s.failure(now, "socket", err))
		return
	}
	if source != nil {
		if err := unix.Bind(fd, source); err != nil {
			unix.Close(fd)
			g.report(r, s.failure(now, "bind", err))
			return
		}
	}
	switch err := unix.Connect(fd, target); err {
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
	case nil, unix.EISCONN:
		g.report(r, closeConnected(fd))
		return
	default:
		unix.Close(fd)
		g.report(r, s.failure(now, "connect", err))
		return
	}
	op := g.alloc()
	g.seq++
	op.fd, op.seq, op.start, op.spec, op.req = int32(fd), g.seq, now, s, r
	op.deadline = int64(now.Sub(g.base) + s.timeout)
	ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd), Pad: int32(op.seq)}
	if err := unix.EpollCtl(g.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		g.recycle(op)
		g.report(r, s.failure(now, "epoll_ctl", err))
		return
	}
	g.inflight[op.fd] = op
	heap.Push(&g.timers, op)
}

// timeout is epoll_wait's timeout in milliseconds until the earliest
// deadline (-1: none), rounded up so that it has passed when the wait
// ends.
func (g *connEngine) timeout() int {
	if len(g.timers) == 0 {
		return -1
	}
	d := g.timers[0].deadline - int64(time.Since(g.base))
	if d <= 0 {
		return 0
	}
	return int(min((d+int64(time.Millisecond)-1)/int64(time.Millisecond), math.MaxInt32))
}

// reap finishes the connects epoll reported.
func (g *connEngine) reap(evs []unix.EpollEvent) {
	for _, ev := range evs {
		if ev.Fd == int32(g.evfd) {
			var buf [8]byte
			_, _ = unix.Read(g.evfd, buf[:])
			continue
		}
		op := g.inflight[ev.Fd]
		if op == nil || op.seq != uint32(ev.Pad) {
			continue
		}
		delete(g.inflight, op.fd)
		heap.Remove(&g.timers, op.index)
		err := op.connected(ev.Events)
		req := op.req
		g.recycle(op)
		g.report(req, err)
	}
}

// expire fails the connects whose deadline passed.
func (g *connEngine) expire() {
	now := int64(time.Since(g.base))
	for len(g.timers) > 0 && g.timers[0].deadline <= now {
		op := heap.Pop(&g.timers).(*connOp)
		delete(g.inflight, op.fd)
		unix.Close(int(op.fd))
		err, req := op.spec.failure(op.start, "", os.ErrDeadlineExceeded), op.req
		g.recycle(op)
		g.report(req, err)
	}
}

// shutdown closes every socket in flight and the engine's own.
func (g *connEngine) shutdown() {
	for fd := range g.inflight {
		unix.Close(int(fd))
	}
	g.inflight, g.timers = nil, nil
	unix.Close(g.epfd)
	unix.Close(g.evfd)
}

func (g *connEngine) alloc() *connOp {
	if n := len(g.free); n > 0 {
		op := g.free[n-1]
		g.free = g.free[:n-1]
		return op
	}
	return &connOp{}
}

func (g *connEngine) recycle(op *connOp) {
	op.spec, op.req = dialSpec{}, nil
	g.free = append(g.free, op)
}

// connected reads the outcome of op's connect from the events epoll
// reported and closes the socket. A connecting TCP socket polls writable
// only once established (tcp_poll), and any error since sets EPOLLERR, so
// EPOLLOUT alone is a success and needs no getsockopt(SO_ERROR).
func (op *connOp) connected(events uint32) error {
	fd := int(op.fd)
	if events&(unix.EPOLLERR|unix.EPOLLHUP) == 0 && events&unix.EPOLLOUT != 0 {
		return closeConnected(fd)
	}
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		unix.Close(fd)
		return op.spec.failure(op.start, "getsockopt", err)
	}
	if soerr != 0 {
		unix.Close(fd)
		return op.spec.failure(op.start, "connect", unix.Errno(soerr))
	}
	return closeConnected(fd)
}

// closeConnected closes a connected socket with a RST (see connEngine).
func closeConnected(fd int) error {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	unix.Close(fd)
	return nil
}

// opHeap orders ops by deadline.
type opHeap []*connOp

func (h opHeap) Len() int           { return len(h) }
func (h opHeap) Less(i, j int) bool { return h[i].deadline < h[j].deadline }
func (h opHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

// Push adds x, a *connOp.
func (h *opHeap) Push(x any) {
	op := x.(*connOp)
	op.index = len(*h)
	*h = append(*h, op)
}

// Pop removes the last op.
func (h *opHeap) Pop() any {
	old := *h
	op := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	op.index = -1
	return op
}
