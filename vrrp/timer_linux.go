//go:build linux

package vrrp

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// kernelTimer is the loop's timer on Linux: a timerfd that a goroutine of
// its own reads, blocked in read(2) on a locked thread at the loop's
// priority, and turns into a tick on C.
//
// Go's timers fire when some thread of the runtime gets round to them:
// one asleep in epoll_wait, or one that schedules goroutines, both at
// normal priority, so on a saturated machine a realtime loop still waits
// for a thread that competes with everything else for the CPU. Here the
// kernel wakes a realtime thread blocked in a system call, which leaves
// it with a free P when the process is not itself saturated, and hands
// the tick straight to the loop's realtime thread.
type kernelTimer struct {
	fd     int
	C      chan time.Time // one tick waits; stale ones only wake the loop early
	done   atomic.Bool
	exited chan struct{}
}

// newKernelTimer starts the timer's goroutine at realtime priority prio
// (0: normal; see pinThread).
func newKernelTimer(prio int) (*kernelTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	t := &kernelTimer{fd: fd, C: make(chan time.Time, 1), exited: make(chan struct{})}
	go t.run(prio)
	return t, nil
}

func (t *kernelTimer) run(prio int) {
	defer close(t.exited)
	unpin, _ := pinThread(prio) // the loop logs why not
	defer unpin()
	var buf [8]byte // the number of expirations
	for {
		_, err := unix.Read(t.fd, buf[:])
		if t.done.Load() {
			return
		}
		if err != nil && err != unix.EINTR && err != unix.EAGAIN {
			return // a closed fd: stop is under way
		}
		if err == nil {
			select {
			case t.C <- time.Now():
			default:
			}
		}
	}
}

// after arms the timer to tick once d from now and returns C; a call
// re-arms it. d is computed from absolute deadlines (nextDeadline), so
// arming relative to now adds no drift.
func (t *kernelTimer) after(d time.Duration) <-chan time.Time {
	select {
	case <-t.C: // a tick for an earlier deadline
	default:
	}
	t.arm(max(d, 1)) // a zero value would disarm it
	return t.C
}

func (t *kernelTimer) arm(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	_ = unix.TimerfdSettime(t.fd, 0, &spec, nil)
}

// stop ends the goroutine and closes the timerfd. Closing alone would not
// wake a read(2) under way, so it fires the timer first.
func (t *kernelTimer) stop() {
	t.done.Store(true)
	t.arm(1)
	<-t.exited
	unix.Close(t.fd)
}
