//go:build linux

package vrrp

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// pinThread locks the calling goroutine to its OS thread and, with prio
// 1-99, makes that thread SCHED_RR at prio (sched_setattr(2) on thread 0,
// the caller), as keepalived's vrrp_rt_priority does for its VRRP process:
// on a saturated machine a realtime thread runs as soon as it wakes, ahead
// of every SCHED_OTHER task, so the loop's timer and reads are served on
// time. It returns unpin, which puts the thread back to SCHED_OTHER and
// unlocks it. A thread whose policy cannot be put back stays locked, so
// that it exits with its goroutine rather than return to Go's pool as a
// realtime thread. The error (EPERM without CAP_SYS_NICE or an
// RLIMIT_RTPRIO, a cgroup without realtime runtime) leaves the thread
// locked at normal priority: the caller logs it and carries on.
func pinThread(prio int) (unpin func(), err error) {
	runtime.LockOSThread()
	if prio <= 0 {
		return runtime.UnlockOSThread, nil
	}
	// Reset on fork: a thread or process this thread creates starts at
	// normal priority. Go makes new threads from whichever thread needs
	// one, the realtime ones included, and they must not carry the
	// health checks, nor a track script, at realtime priority.
	attr := unix.SchedAttr{Policy: unix.SCHED_RR, Priority: uint32(prio), Flags: unix.SCHED_FLAG_RESET_ON_FORK}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return runtime.UnlockOSThread, fmt.Errorf("realtime priority %d (SCHED_RR): %w", prio, err)
	}
	return func() {
		normal := unix.SchedAttr{Policy: unix.SCHED_NORMAL}
		if unix.SchedSetAttr(0, &normal, 0) == nil {
			runtime.UnlockOSThread()
		}
	}, nil
}
