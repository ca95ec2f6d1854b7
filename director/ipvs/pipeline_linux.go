package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// The pipelined writer sends a window of operations in one datagram and
// reads their outcome once, instead of one round trip per operation (what
// libipvs does, and ipvsadm-restore too). The kernel handles a datagram's
// messages in order, synchronously in sendmsg (netlink_rcv_skb), and
// answers a message that fails with an error carrying the message's
// sequence number whether or not it asked for an acknowledgement. So only
// the window's last message asks for one: once it arrives, every error of
// the window has arrived before it, and a message without an error was
// made. A window is bounded (pipelineWindow) so that even when every
// message fails their errors fit in the socket's receive buffer.

// pipelineWindow is how many operations go in one datagram: about 30 KB
// to send, and at most as many error messages (~1 KB of receive buffer
// each, as the kernel counts) as the buffer the socket asks for holds.
const pipelineWindow = 256

// Netlink flags and message types (linux/netlink.h).
const (
	nlmFRequest = 0x1
	nlmFAck     = 0x4
	nlmsgError  = 0x2
)

// nlConn is a generic netlink socket as the writer uses it; the kernel's
// is nlSocket, tests pass a fake.
type nlConn interface {
	// Send writes one datagram (many messages); the kernel has handled
	// them all when it returns.
	Send(b []byte) error
	// Recv reads one datagram of answers into b; without wait it fails
	// at once (EAGAIN) when none is queued.
	Recv(b []byte, wait bool) (int, error)
}

// pipeline writes operations through conn to the IPVS family.
type pipeline struct {
	conn   nlConn
	family uint16
	window int
	seq    uint32
	out    []byte // reused send buffer
	in     []byte // reused receive buffer
}

func newPipeline(conn nlConn, family uint16) *pipeline {
	return &pipeline{conn: conn, family: family, window: pipelineWindow, in: make([]byte, 64<<10)}
}

// apply makes ops in order and returns each one's outcome: nil when the
// kernel made it, its error otherwise (ErrSkipped, ErrUnknown or the
// kernel's errno). Destination operations of a service added in the same
// window wait for that window's answer, so that they can be skipped when
// the add failed, as Apply skips them.
func (p *pipeline) apply(ops []Op) []error {
	errs := make([]error, len(ops))
	failedAdd := map[ServiceKey]bool{}
	adding := map[ServiceKey]bool{} // AddService in the window not sent yet
	win := make([]int, 0, p.window)
	flush := func() {
		if len(win) == 0 {
			return
		}
		p.roundTrip(ops, win, errs)
		for _, i := range win {
			if ops[i].Kind == AddService && errs[i] != nil {
				failedAdd[ops[i].Key] = true
			}
		}
		clear(adding)
		win = win[:0]
	}
	for i, op := range ops {
		if op.Kind == AddDest || op.Kind == UpdateDest {
			if adding[op.Key] {
				flush()
			}
			if failedAdd[op.Key] {
				errs[i] = ErrSkipped
				continue
			}
		}
		win = append(win, i)
		if op.Kind == AddService {
			adding[op.Key] = true
		}
		if len(win) == p.window {
			flush()
		}
	}
	flush()
	return errs
}

// roundTrip sends the window's operations in one datagram and records
// their outcomes in errs.
func (p *pipeline) roundTrip(ops []Op, win []int, errs []error) {
	b := p.out[:0]
	base := p.seq + 1
	sent := win[:0:0] // the window's operations that encoded, by sequence number - base
	for j, i := range win {
		flags := uint16(nlmFRequest)
		if j == len(win)-1 {
			flags |= nlmFAck
		}
		var err error
		if b, err = appendOp(b, p.family, base+uint32(len(sent)), flags, ops[i]); err != nil {
			errs[i] = err
			continue
		}
		sent = append(sent, i)
	}
	p.out = b
	if len(sent) == 0 {
		return
	}
	if errs[win[len(win)-1]] != nil { // the last one did not encode: ask the new last for the ack
		p.askAck(len(sent) - 1)
	}
	p.seq = base + uint32(len(sent)) - 1
	if err := p.conn.Send(b); err != nil {
		for _, i := range sent {
			errs[i] = fmt.Errorf("send: %w", err) // nothing of a refused datagram is handled
		}
		return
	}
	for _, i := range sent {
		errs[i] = ErrUnknown // until the kernel says
	}
	p.collect(base, sent, errs)
}

// askAck sets the acknowledgement flag on the n-th message of p.out.
func (p *pipeline) askAck(n int) {
	msgs, _ := splitMessages(p.out)
	m := msgs[n]
	binary.NativeEndian.PutUint16(m[6:], binary.NativeEndian.Uint16(m[6:])|nlmFAck)
}

// collect reads answers until the acknowledgement of the last message
// sent: errors map to their operation by sequence number, and the
// operations before the last without an error were made. After an
// overrun (ENOBUFS: answers were dropped) it reads what is still queued
// without waiting, and what no answer speaks of stays ErrUnknown.
// Answers of an earlier window, left behind by an overrun, are ignored.
func (p *pipeline) collect(base uint32, sent []int, errs []error) {
	last, overrun := len(sent)-1, false
	for {
		n, err := p.conn.Recv(p.in, !overrun)
		if errors.Is(err, syscall.ENOBUFS) && !overrun {
			overrun = true
			continue
		}
		if err != nil {
			return // drained after an overrun, or no answer at all
		}
		msgs, _ := splitMessages(p.in[:n])
		for _, m := range msgs {
			if p.answer(m, base, sent, errs) == last && !overrun {
				for _, i := range sent[:last] {
					if errors.Is(errs[i], ErrUnknown) {
						errs[i] = nil // no error came before the last one's answer
					}
				}
				return
			}
		}
	}
}

// answer records the outcome an NLMSG_ERROR message m gives, and returns
// the index in sent of the operation it answers, or -1.
func (p *pipeline) answer(m []byte, base uint32, sent []int, errs []error) int {
	if parseHeader(m).Type != nlmsgError || len(m) < nlHdrLen+4+nlHdrLen {
		return -1
	}
	code := int32(binary.NativeEndian.Uint32(m[nlHdrLen:]))
	j := int64(parseHeader(m[nlHdrLen+4:]).Seq - base) // the request's header follows the code
	if j >= int64(len(sent)) {
		return -1
	}
	errs[sent[j]] = nil
	if code != 0 {
		errs[sent[j]] = syscall.Errno(-code)
	}
	return int(j)
}
