//go:build !linux

package vrrp

import (
	"errors"
	"time"
)

// kernelTimer is Linux's (timer_linux.go); elsewhere the loop uses Go's.
type kernelTimer struct{}

func newKernelTimer(int) (*kernelTimer, error) { return nil, errors.New("timerfd: needs Linux") }

func (*kernelTimer) after(time.Duration) <-chan time.Time { return nil }

func (*kernelTimer) stop() {}
