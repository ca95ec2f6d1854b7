//go:build linux

package vrrp

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// kernelWait is the direct loop's wait (direct.go): ppoll(2) on the
// paths' sockets and an eventfd the relay rings, on the loop's thread.
type kernelWait struct {
	fds   []unix.PollFd // one per path, then the eventfd
	efd   int
	ts    unix.Timespec
	one   [8]byte // what ring writes: 1, in host order
	drain [8]byte
}

// newKernelWait opens the eventfd and lists the sockets.
func newKernelWait(dcs []directConn) (*kernelWait, error) {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	w := &kernelWait{efd: efd}
	for _, dc := range dcs {
		fd := dc.recvFD()
		if fd < 0 {
			unix.Close(efd)
			return nil, errors.New("receiving socket has no descriptor")
		}
		w.fds = append(w.fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	w.fds = append(w.fds, unix.PollFd{Fd: int32(efd), Events: unix.POLLIN})
	w.one[0] = 1 // any count wakes the wait; 1 on little-endian hosts
	return w, nil
}

// wait blocks until a socket is readable, the relay rings, or next
// passes (none: zero next). A signal ends it early, which is only an
// early look at the deadlines.
func (w *kernelWait) wait(next, now time.Time) error {
	var ts *unix.Timespec
	if !next.IsZero() {
		w.ts = unix.NsecToTimespec(max(int64(next.Sub(now)), 0))
		ts = &w.ts
	}
	for i := range w.fds {
		w.fds[i].Revents = 0
	}
	if _, err := unix.Ppoll(w.fds, ts, nil); err != nil && err != unix.EINTR {
		return fmt.Errorf("ppoll: %w", err)
	}
	if w.fds[len(w.fds)-1].Revents != 0 {
		_, _ = unix.Read(w.efd, w.drain[:])
	}
	return nil
}

// readable reports whether path i's socket has something to read (or an
// error to return) after the last wait.
func (w *kernelWait) readable(i int) bool { return w.fds[i].Revents != 0 }

// drop stops waiting on path i's socket.
func (w *kernelWait) drop(i int) { w.fds[i].Fd, w.fds[i].Revents = -1, 0 }

// ring wakes the wait; any goroutine may call it.
func (w *kernelWait) ring() { _, _ = unix.Write(w.efd, w.one[:]) }

// close closes the eventfd.
func (w *kernelWait) close() { unix.Close(w.efd) }
