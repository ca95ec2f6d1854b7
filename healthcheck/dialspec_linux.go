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

// dialSpec is a connect-only TCP check for the connEngine: what to
// connect to, from where, for how long. It is a small value, made from a
// Runner's entry as the engine begins its connect; the engine builds the socket
// addresses at the connect, in buffers of its own (sockaddrs), rather
// than every check keeping its own.
type dialSpec struct {
	addr    netip.AddrPort // the target as given, also for messages
	source  netip.Addr     // invalid: the kernel picks the address
	timeout time.Duration
}

// newDialSpec prepares connects from source (may be invalid) to target,
// each bounded by timeout, or says why the engine cannot make them. An
// IPv4-mapped address counts as IPv4, as for net.Dial. Scoped (zoned)
// IPv6 addresses are left to net.Dial, which resolves interface names.
func newDialSpec(target netip.AddrPort, source netip.Addr, timeout time.Duration) (dialSpec, error) {
	addr, src := target.Addr().Unmap(), source.Unmap()
	switch {
	case addr.Zone() != "" || src.Zone() != "":
		return dialSpec{}, errors.New("scoped address")
	case !addr.IsValid():
		return dialSpec{}, errors.New("no address")
	case src.IsValid() && src.Is4() != addr.Is4():
		return dialSpec{}, errors.New("source of the other address family")
	}
	return dialSpec{addr: target, source: source, timeout: timeout}, nil // messages name the target as given
}

// dial is the connect the engine makes for e, a connect-only TCP check.
func (e *entry) dial() dialSpec {
	return dialSpec{addr: e.target(), source: e.check.Source, timeout: e.timeout()}
}

// sockaddrs holds the socket addresses of one connect. The engine's
// goroutine owns one and fills it for each connect it begins, since
// unix.Connect and unix.Bind write into the Sockaddr they are given.
type sockaddrs struct {
	v4, src4 unix.SockaddrInet4
	v6, src6 unix.SockaddrInet6
}

// fill sets b to s's addresses and returns the socket family, the target
// and the source (nil: the kernel picks it). s is as newDialSpec made it.
func (s dialSpec) fill(b *sockaddrs) (family int, target, source unix.Sockaddr) {
	addr, src := s.addr.Addr().Unmap(), s.source.Unmap()
	if addr.Is4() {
		b.v4 = unix.SockaddrInet4{Port: int(s.addr.Port()), Addr: addr.As4()}
		if src.IsValid() {
			b.src4 = unix.SockaddrInet4{Addr: src.As4()}
			source = &b.src4
		}
		return unix.AF_INET, &b.v4, source
	}
	b.v6 = unix.SockaddrInet6{Port: int(s.addr.Port()), Addr: addr.As16()}
	if src.IsValid() {
		b.src6 = unix.SockaddrInet6{Addr: src.As16()}
		source = &b.src6
	}
	return unix.AF_INET6, &b.v6, source
}

// failure turns an error of the named system call (none for a timeout)
// into the *Error that TCP.Check returns for the same failure: both go
// through classify with the same operation and subject.
func (s dialSpec) failure(start time.Time, syscall string, err error) *Error {
	if syscall != "" {
		err = os.NewSyscallError(syscall, err)
	}
	oe := &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(s.addr), Err: err}
	return classify(context.Background(), start, "connect", s.addr.String(), oe)
}
