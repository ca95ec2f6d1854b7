package healthcheck

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// dialSpec is a connect-only TCP check made ready for the connEngine:
// its socket addresses are built once, not at every check. Only the
// engine's goroutine connects with it (unix.Connect writes into the
// Sockaddr).
type dialSpec struct {
	family  int
	target  unix.Sockaddr // points into sa
	source  unix.Sockaddr // nil: the kernel picks the address
	timeout time.Duration
	addr    netip.AddrPort // the target as given, for messages
	sa      struct {       // the socket addresses, in the spec's own allocation
		v4, src4 unix.SockaddrInet4
		v6, src6 unix.SockaddrInet6
	}
}

// newDialSpec prepares connects from source (may be invalid) to target,
// each bounded by timeout. An IPv4-mapped address counts as IPv4, as for
// net.Dial. Scoped (zoned) IPv6 addresses are left to net.Dial, which
// resolves interface names.
func newDialSpec(target netip.AddrPort, source netip.Addr, timeout time.Duration) (*dialSpec, error) {
	addr, src := target.Addr().Unmap(), source.Unmap()
	if addr.Zone() != "" || src.Zone() != "" {
		return nil, errors.New("scoped address")
	}
	s := &dialSpec{addr: target, timeout: timeout} // messages name the target as given
	switch {
	case addr.Is4():
		s.family = unix.AF_INET
		s.sa.v4 = unix.SockaddrInet4{Port: int(target.Port()), Addr: addr.As4()}
		s.target = &s.sa.v4
		if src.IsValid() {
			s.sa.src4 = unix.SockaddrInet4{Addr: src.As4()}
			s.source = &s.sa.src4
		}
	case addr.Is6():
		s.family = unix.AF_INET6
		s.sa.v6 = unix.SockaddrInet6{Port: int(target.Port()), Addr: addr.As16()}
		s.target = &s.sa.v6
		if src.IsValid() {
			s.sa.src6 = unix.SockaddrInet6{Addr: src.As16()}
			s.source = &s.sa.src6
		}
	default:
		return nil, errors.New("no address")
	}
	if src.IsValid() && src.Is4() != addr.Is4() {
		return nil, errors.New("source of the other address family")
	}
	return s, nil
}

// failure turns an error of the named system call (none for a timeout)
// into the *Error that TCP.Check returns for the same failure: both go
// through classify with the same operation and subject.
func (s *dialSpec) failure(start time.Time, syscall string, err error) *Error {
	if syscall != "" {
		err = os.NewSyscallError(syscall, err)
	}
	oe := &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(s.addr), Err: err}
	return classify(context.Background(), start, "connect", s.addr.String(), oe)
}
