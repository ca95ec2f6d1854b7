package healthcheck

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"slices"
	"time"
)

// maxReply bounds what a tcp or udp check reads while looking for expect.
const maxReply = 64 << 10

// TCP checks that a realserver accepts a connection and, optionally, that
// it answers a sent string (or greets, with expect alone) with a reply
// containing the expected string. Check dials with net.Dial and closes
// with a FIN. The Runner makes connect-only checks on its connect engine
// instead, which classifies failures alike but closes with a RST (see
// connEngine).
type TCP struct {
	dialer *net.Dialer
	source netip.Addr // the dialer's local address, for the connect engine
	send   []byte
	expect []byte
}

// NewTCP builds a TCP checker from c (source, send, expect).
func NewTCP(c Spec) *TCP {
	return &TCP{dialer: dialer(c, "tcp"), source: c.Source, send: []byte(c.Send), expect: []byte(c.Expect)}
}

// connectOnly reports whether t only connects and closes, which the
// Runner's connect engine does for it.
func (t *TCP) connectOnly() bool { return len(t.send) == 0 && len(t.expect) == 0 }

// Check connects to target, sends and reads as configured, and closes.
func (t *TCP) Check(ctx context.Context, target netip.AddrPort) error {
	start := time.Now()
	conn, err := t.dialer.DialContext(ctx, "tcp", target.String())
	if err != nil {
		return classify(ctx, start, "connect", target.String(), err)
	}
	defer conn.Close()
	if len(t.send) == 0 && len(t.expect) == 0 {
		return nil
	}
	defer closeOnDone(ctx, conn)()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	if len(t.send) > 0 {
		if _, err := conn.Write(t.send); err != nil {
			return classify(ctx, start, "send to", target.String(), err)
		}
	}
	if len(t.expect) == 0 {
		return nil
	}
	return readExpect(ctx, start, conn, target, t.expect)
}

// readExpect reads from a stream until the data holds expect, the server
// closes, the buffer is full or ctx ends.
func readExpect(ctx context.Context, start time.Time, conn net.Conn, target netip.AddrPort, expect []byte) error {
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxReply {
				return fail(ReasonExpect, "reply from %s lacks %q in its first %d bytes", target, expect, maxReply)
			}
			buf = slices.Grow(buf, cap(buf))
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if bytes.Contains(buf, expect) {
			return nil
		}
		if err != nil {
			return expectFailed(ctx, start, target, expect, buf, err)
		}
	}
}

// expectFailed explains a read that ended before expect was seen.
func expectFailed(ctx context.Context, start time.Time, target netip.AddrPort, expect, got []byte, err error) error {
	e := classify(ctx, start, "read", target.String(), err)
	if e.Reason == ReasonReset && len(got) > 0 {
		return &Error{Reason: ReasonExpect, Detail: "reply lacks " + quote(expect) + ": got " + quote(trim(got)), Err: err}
	}
	if e.Reason == ReasonTimeout {
		e.Detail += ", waiting for " + quote(expect)
	}
	return e
}

// trim shortens a reply for an error message.
func trim(b []byte) []byte {
	const max = 64
	if len(b) > max {
		return b[:max]
	}
	return b
}
