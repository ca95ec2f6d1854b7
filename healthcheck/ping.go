package healthcheck

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// Socket kinds a Ping checker has found to work.
const (
	pingUnknown int32 = iota
	pingUnprivileged
	pingPrivileged
)

// Ping checks that a realserver answers one ICMP (or ICMPv6) echo request.
// It first tries an unprivileged ICMP datagram socket, which Linux allows
// to the groups in net.ipv4.ping_group_range, and falls back to a raw
// socket (root or CAP_NET_RAW). What worked is remembered. The target's
// port is ignored.
type Ping struct {
	source string
	kind   atomic.Int32
}

// NewPing builds a Ping checker from c (source).
func NewPing(c Spec) *Ping {
	p := &Ping{}
	if c.Source.IsValid() {
		p.source = c.Source.String()
	}
	return p
}

// Check sends one echo request to target's address and waits for the
// reply until ctx is done.
func (p *Ping) Check(ctx context.Context, target netip.AddrPort) error {
	start := time.Now()
	addr := target.Addr().Unmap()
	if p.kind.Load() != pingPrivileged {
		recv, err := p.ping(ctx, addr, false)
		if err == nil || !isPermission(err) {
			p.kind.Store(pingUnprivileged)
			return pingResult(ctx, start, addr, recv, err)
		}
		recv, err2 := p.ping(ctx, addr, true)
		if err2 != nil && isPermission(err2) {
			return &Error{Reason: ReasonLocal, Err: errors.Join(err, err2),
				Detail: "ping " + addr.String() + ": unprivileged: " + err.Error() + "; raw: " + err2.Error()}
		}
		p.kind.Store(pingPrivileged)
		return pingResult(ctx, start, addr, recv, err2)
	}
	recv, err := p.ping(ctx, addr, true)
	return pingResult(ctx, start, addr, recv, err)
}

// ping sends one echo request and reports how many replies came back.
func (p *Ping) ping(ctx context.Context, addr netip.Addr, privileged bool) (int, error) {
	pg := probing.New(addr.String())
	pg.SetLogger(probing.NoopLogger{})
	pg.SetIPAddr(&net.IPAddr{IP: net.IP(addr.AsSlice()), Zone: addr.Zone()})
	pg.SetPrivileged(privileged)
	pg.Source = p.source
	pg.Count = 1
	pg.Timeout = time.Second
	if d, ok := ctx.Deadline(); ok {
		pg.Timeout = time.Until(d)
	}
	if pg.Timeout <= 0 {
		return 0, context.DeadlineExceeded
	}
	err := pg.RunWithContext(ctx)
	return pg.Statistics().PacketsRecv, err
}

// pingResult judges one run: a reply is healthy whatever ended the run.
func pingResult(ctx context.Context, start time.Time, addr netip.Addr, recv int, err error) error {
	if recv > 0 {
		return nil
	}
	if err == nil || isTimeout(err) || ctx.Err() != nil {
		e := classify(ctx, start, "ping", addr.String(), context.DeadlineExceeded)
		if e.Reason == ReasonTimeout {
			e.Detail = "ping " + addr.String() + ": no echo reply, timeout after " + roundDur(time.Since(start)).String()
		}
		return e
	}
	return classify(ctx, start, "ping", addr.String(), err)
}

func isPermission(err error) bool {
	return errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) ||
		errors.Is(err, syscall.EPROTONOSUPPORT) || errors.Is(err, syscall.ESOCKTNOSUPPORT)
}
