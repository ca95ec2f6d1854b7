//go:build linux

package vrrp

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinThreadRealtime checks pinThread where realtime is allowed (as
// root): the thread is SCHED_RR at the priority, with reset-on-fork so
// that threads and processes it creates are not, and unpin puts it back.
func TestPinThreadRealtime(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		unpin, err := pinThread(10)
		if err != nil {
			runtime.UnlockOSThread()
			t.Log("realtime not permitted here:", err)
			return
		}
		attr, err := unix.SchedGetAttr(0, 0)
		if err != nil || attr.Policy != unix.SCHED_RR || attr.Priority != 10 || attr.Flags&unix.SCHED_FLAG_RESET_ON_FORK == 0 {
			t.Errorf("thread scheduled %+v (%v), want SCHED_RR 10 with reset on fork", attr, err)
		}
		tid := unix.Gettid()
		unpin()
		if attr, err := unix.SchedGetAttr(tid, 0); err != nil || attr.Policy != unix.SCHED_NORMAL {
			t.Errorf("after unpin: %+v (%v), want SCHED_NORMAL", attr, err)
		}
	}()
	<-done
}
