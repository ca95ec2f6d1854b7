//go:build !linux

package vrrp

import (
	"errors"
	"runtime"
)

// pinThread locks the calling goroutine to its OS thread; realtime
// scheduling is Linux's (sched_setattr(2)).
func pinThread(prio int) (unpin func(), err error) {
	runtime.LockOSThread()
	if prio > 0 {
		err = errors.New("realtime priority: needs Linux")
	}
	return runtime.UnlockOSThread, err
}
