// Package healthcheck probes realservers and decides when they are up.
//
// A Checker makes one probe. The pure Tracker turns a run of results into
// up and down transitions (rise and fall). The Runner starts the checks
// in batches, one gocron job per slice of an interval (see bucket), feeds
// each result to that pair's Tracker and reports every transition to a
// callback. Connect-only TCP checks, the bulk of a large farm's, are made
// by the connect engine (Linux): non-blocking sockets on one epoll
// instance, about the CPU of a C loop doing the same; the others run their
// Checker on a bounded worker pool.
package healthcheck

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
)

// Checker probes one real server; nil means healthy.
// It must return promptly once ctx is done.
type Checker interface {
	Check(ctx context.Context, target netip.AddrPort) error
}

// CheckerFunc adapts a function to a Checker.
type CheckerFunc func(ctx context.Context, target netip.AddrPort) error

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context, target netip.AddrPort) error { return f(ctx, target) }

// Static is the checker of types none and on (always healthy) and off
// (always down, with ReasonForcedDown).
type Static struct {
	Up bool
}

// Check returns nil when s is up and a forced-down error otherwise.
func (s Static) Check(context.Context, netip.AddrPort) error {
	if s.Up {
		return nil
	}
	return fail(ReasonForcedDown, "forced down (check type off)")
}

// New builds the checker for c and returns it with the address it probes:
// defaultTarget (the realserver) with c.Address and c.Port laid over it.
func New(c Spec, defaultTarget netip.AddrPort) (Checker, netip.AddrPort, error) {
	target := effectiveTarget(c, defaultTarget)
	if err := checkSource(c, target); err != nil {
		return nil, target, err
	}
	ch, err := build(c)
	if err != nil {
		return nil, target, fmt.Errorf("healthcheck %s %s: %w", c.Type, target, err)
	}
	return ch, target, nil
}

func build(c Spec) (Checker, error) {
	switch c.Type {
	case "http", "https":
		return NewHTTP(c)
	case "tcp":
		return NewTCP(c), nil
	case "udp":
		return NewUDP(c), nil
	case "dns":
		return NewDNS(c)
	case "ping":
		return NewPing(c), nil
	case "external":
		return NewExternal(c)
	case "none", "on":
		return Static{Up: true}, nil
	case "off":
		return Static{Up: false}, nil
	}
	return nil, fmt.Errorf("type %q: unknown check type", c.Type)
}

// effectiveTarget lays the check's address and port over the realserver's.
func effectiveTarget(c Spec, real netip.AddrPort) netip.AddrPort {
	addr, port := real.Addr(), real.Port()
	if c.Address.IsValid() {
		addr = c.Address
	}
	if c.Port != 0 {
		port = uint16(c.Port)
	}
	return netip.AddrPortFrom(addr, port)
}

// checkSource refuses a source address of the other family than the
// target, which the kernel would refuse at every check.
func checkSource(c Spec, target netip.AddrPort) error {
	if !c.Source.IsValid() || !target.Addr().IsValid() {
		return nil
	}
	if c.Source.Unmap().Is4() != target.Addr().Unmap().Is4() {
		return fmt.Errorf("healthcheck %s %s: source %s: not of the target's address family", c.Type, target, c.Source)
	}
	return nil
}

// dialer returns a net.Dialer bound to the check's source address, if any.
// The port stays 0: the kernel picks one per connection.
func dialer(c Spec, network string) *net.Dialer {
	d := &net.Dialer{}
	if !c.Source.IsValid() {
		return d
	}
	ip := net.IP(c.Source.AsSlice())
	switch network {
	case "udp":
		d.LocalAddr = &net.UDPAddr{IP: ip, Zone: c.Source.Zone()}
	default:
		d.LocalAddr = &net.TCPAddr{IP: ip, Zone: c.Source.Zone()}
	}
	return d
}

// closeOnDone closes c as soon as ctx is done, so that blocked reads and
// writes return at once even if the caller cancelled without a deadline.
// The returned function stops watching.
func closeOnDone(ctx context.Context, c io.Closer) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = c.Close() })
}
