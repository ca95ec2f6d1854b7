//go:build linux

package vrrp

import (
	"testing"
	"time"
)

// TestKernelTimer checks the loop's Linux timer: it ticks once armed, a
// re-arm replaces the wait before it (an hour, then a millisecond: the
// tick comes), arming allocates nothing, and stop ends its goroutine.
func TestKernelTimer(t *testing.T) {
	kt, err := newKernelTimer(0)
	if err != nil {
		t.Skip(err)
	}
	<-kt.after(time.Millisecond)
	kt.after(time.Hour)
	start := time.Now()
	at := <-kt.after(time.Millisecond)
	if at.Before(start) {
		t.Errorf("ticked at %v, before it was armed at %v", at, start)
	}
	if n := testing.AllocsPerRun(100, func() { kt.after(time.Hour) }); n != 0 {
		t.Errorf("arming allocates %v times, want 0", n)
	}
	kt.stop()
	select {
	case <-kt.exited:
	default:
		t.Error("stop returned with the goroutine running")
	}
}
