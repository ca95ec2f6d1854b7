//go:build !linux

package vrrp

import (
	"errors"
	"time"
)

// kernelWait needs ppoll and eventfd: outside Linux the loop waits on
// channels (loop).
type kernelWait struct{}

func newKernelWait([]directConn) (*kernelWait, error) {
	return nil, errors.New("vrrp: the direct loop needs Linux")
}

func (*kernelWait) wait(next, now time.Time) error { return nil }
func (*kernelWait) readable(int) bool              { return false }
func (*kernelWait) drop(int)                       {}
func (*kernelWait) ring()                          {}
func (*kernelWait) close()                         {}
