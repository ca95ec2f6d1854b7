//go:build !linux

package healthcheck

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// connEngine exists only on Linux; elsewhere every check runs on the
// worker pool with its Checker.
type connEngine struct{}

// dialSpec exists only on Linux.
type dialSpec struct{}

// dial is never called: no entry is a connect entry without an engine.
func (e *entry) dial() dialSpec { return dialSpec{} }

func newConnEngine(context.Context, func(connReq, error)) (*connEngine, error) {
	return nil, errors.New("connect engine: Linux only")
}

func newDialSpec(netip.AddrPort, netip.Addr, time.Duration) (dialSpec, error) {
	return dialSpec{}, errors.New("connect engine: Linux only")
}

// connReq is a connect to make.
type connReq interface{ dial() dialSpec }

func (*connEngine) start(...connReq) {}

func (*connEngine) wait() {}
