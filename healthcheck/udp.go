package healthcheck

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// UDP checks a datagram service: it sends one datagram and wants a reply
// containing the expected string (any reply when expect is empty). The
// socket is connected, so an ICMP port unreachable answer surfaces as
// ECONNREFUSED and is reported as ReasonRefused.
type UDP struct {
	dialer *net.Dialer
	send   []byte
	expect []byte
}

// NewUDP builds a UDP checker from c (source, send, expect).
func NewUDP(c Spec) *UDP {
	return &UDP{dialer: dialer(c, "udp"), send: []byte(c.Send), expect: []byte(c.Expect)}
}

// Check sends the datagram to target and judges the first reply.
func (u *UDP) Check(ctx context.Context, target netip.AddrPort) error {
	start := time.Now()
	conn, err := u.dialer.DialContext(ctx, "udp", target.String())
	if err != nil {
		return classify(ctx, start, "udp", target.String(), err)
	}
	defer conn.Close()
	defer closeOnDone(ctx, conn)()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	if _, err := conn.Write(u.send); err != nil {
		return classify(ctx, start, "udp send to", target.String(), err)
	}
	bp := replyBufs.Get().(*[]byte)
	defer replyBufs.Put(bp)
	buf := *bp
	n, err := conn.Read(buf)
	if err != nil {
		e := classify(ctx, start, "udp", target.String(), err)
		if e.Reason == ReasonTimeout {
			e.Detail = "udp " + target.String() + ": no reply, timeout after " + roundDur(time.Since(start)).String()
		}
		return e
	}
	if !bytes.Contains(buf[:n], u.expect) {
		return fail(ReasonExpect, "udp reply from %s lacks %s: got %s", target, quote(u.expect), quote(trim(buf[:n])))
	}
	return nil
}

// replyBufs holds datagram buffers: a reply may be up to 64 KiB, and
// allocating that per check would dominate a UDP check's cost.
var replyBufs = sync.Pool{New: func() any { b := make([]byte, maxReply); return &b }}

// quote renders bytes for an error message.
func quote(b []byte) string { return strconv.Quote(string(b)) }
