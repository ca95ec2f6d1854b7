package healthcheck

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestPing pings the loopback addresses. It needs either an ICMP datagram
// socket (the gid in net.ipv4.ping_group_range) or a raw socket (root or
// CAP_NET_RAW); without both it skips and says why. The integration tests
// ping across network namespaces.
func TestPing(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run(addr, func(t *testing.T) {
			if addr == "::1" {
				haveIPv6(t)
			}
			p := NewPing(Spec{})
			err := p.Check(checkCtx(t, 2*time.Second), netip.AddrPortFrom(netip.MustParseAddr(addr), 0))
			var e *Error
			if errors.As(err, &e) && e.Reason == ReasonLocal {
				t.Skipf("no ICMP socket for this user: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("socket kind: %v", map[int32]string{pingUnprivileged: "unprivileged", pingPrivileged: "raw"}[p.kind.Load()])
		})
	}
}

// TestPingResult judges runs that cannot be made on a loopback: no reply
// by the deadline, a send error, a cancellation. Pinging something that
// does not answer needs a network namespace (see integration).
func TestPingResult(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.1")
	start := time.Now()
	if err := pingResult(context.Background(), start, addr, 1, context.Canceled); err != nil {
		t.Errorf("a reply is healthy whatever ended the run: %v", err)
	}
	expired, cancel := context.WithDeadline(context.Background(), start)
	defer cancel()
	wantFail(t, pingResult(expired, start, addr, 0, nil), ReasonTimeout, "ping 192.0.2.1: no echo reply, timeout after")
	unreachable := &net.OpError{Op: "write", Net: "ip4:icmp", Err: os.NewSyscallError("sendto", syscall.ENETUNREACH)}
	wantFail(t, pingResult(context.Background(), start, addr, 0, unreachable), ReasonUnreachable, "ping 192.0.2.1: ")
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	wantFail(t, pingResult(cancelled, start, addr, 0, context.Canceled), ReasonCanceled, "canceled")
}
