package ipvs

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"syscall"
	"testing"

	"github.com/lvsd/lvsd/director/config"
)

// fakeConn is the kernel's end of the pipelined writer's socket over a
// Memory table: each datagram's messages are decoded and applied in
// order, as netlink_rcv_skb does, and answered as the kernel answers: an
// error for a message that fails, an acknowledgement for one that asks.
// Answers are read one per Recv, like skbs. With limit set, answers
// beyond that many queued are dropped and the next Recv fails with
// ENOBUFS, as a full receive buffer does.
type fakeConn struct {
	t       *testing.T
	mem     *Memory
	limit   int   // queued answers at most; 0: no limit
	sendErr error // refuse the next datagram with it
	sends   int   // datagrams handled
	queue   [][]byte
	overrun bool
}

func (c *fakeConn) Send(b []byte) error {
	if err := c.sendErr; err != nil {
		c.sendErr = nil
		return err
	}
	c.sends++
	msgs, err := splitMessages(b)
	if err != nil {
		c.t.Fatalf("datagram of %d bytes: %v", len(b), err)
	}
	for _, m := range msgs {
		h, op, err := decodeOp(m)
		if err != nil {
			c.t.Fatalf("message %x: %v", m, err)
		}
		if h.Flags&nlmFRequest == 0 {
			c.t.Fatalf("message %+v without NLM_F_REQUEST: the kernel would ignore it", h)
		}
		var errno syscall.Errno
		if err := c.mem.Apply(op); err != nil && !errors.As(err, &errno) {
			c.t.Fatalf("%v: %v is no errno", op, err)
		}
		if errno != 0 || h.Flags&nlmFAck != 0 {
			c.answer(m, errno)
		}
	}
	return nil
}

// answer queues an NLMSG_ERROR for request m: errno 0 is an ack. The
// request's header is echoed, not its payload (NETLINK_CAP_ACK).
func (c *fakeConn) answer(m []byte, errno syscall.Errno) {
	if c.limit > 0 && len(c.queue) >= c.limit {
		c.overrun = true
		return
	}
	a := binary.NativeEndian.AppendUint32(nil, uint32(nlHdrLen+4+nlHdrLen))
	a = binary.NativeEndian.AppendUint16(a, nlmsgError)
	a = binary.NativeEndian.AppendUint16(a, 0)
	a = binary.NativeEndian.AppendUint32(a, parseHeader(m).Seq)
	a = binary.NativeEndian.AppendUint32(a, 0)
	a = binary.NativeEndian.AppendUint32(a, uint32(-int32(errno)))
	a = append(a, m[:nlHdrLen]...)
	c.queue = append(c.queue, a)
}

func (c *fakeConn) Recv(b []byte, _ bool) (int, error) {
	if c.overrun {
		c.overrun = false
		return 0, syscall.ENOBUFS
	}
	if len(c.queue) == 0 {
		return 0, syscall.EAGAIN // none queued, or the receive timeout: nothing more will come
	}
	n := copy(b, c.queue[0])
	c.queue = c.queue[1:]
	return n, nil
}

// piped is a Memory written through the pipelined writer and a fakeConn,
// as the Kernel is through its socket.
type piped struct {
	*Memory
	conn *fakeConn
	p    *pipeline
}

func newPiped(t *testing.T, window int) *piped {
	m := NewMemory()
	c := &fakeConn{t: t, mem: m}
	p := newPipeline(c, 42)
	p.window = window
	return &piped{Memory: m, conn: c, p: p}
}

func (k *piped) ApplyBatch(ops []Op) []error { return k.p.apply(ops) }

// sequential is a Memory written one operation at a time.
type sequential struct{ *Memory }

// scriptOps is a run of operations that the kernel partly refuses, in
// Diff's order: a scheduler it lacks, a service twice, a destination
// twice, changes and deletes of what is not there, a negative weight, a
// destination of the other family, and the destinations of a service that
// could not be added.
func scriptOps() []Op {
	nat := Dest{Forward: config.NAT, Weight: 1}
	badSched := ServiceKey{Protocol: syscall.IPPROTO_TCP, Addr: netip.MustParseAddrPort("192.0.2.11:80")}
	return []Op{
		{Kind: AddService, Key: keyV4, Service: Service{Scheduler: "wlc"}},
		{Kind: AddService, Key: badSched, Service: Service{Scheduler: "nope"}},
		{Kind: AddService, Key: keyV4, Service: Service{Scheduler: "rr"}},
		{Kind: AddService, Key: keyV6, Service: Service{Scheduler: "rr"}},
		{Kind: UpdateService, Key: keyMark, Service: Service{Scheduler: "rr"}},
		{Kind: AddDest, Key: keyV4, Addr: realV4, Dest: nat},
		{Kind: AddDest, Key: badSched, Addr: realV4, Dest: nat},
		{Kind: AddDest, Key: keyV4, Addr: realV4, Dest: nat},
		{Kind: AddDest, Key: keyV4, Addr: netip.MustParseAddrPort("198.51.100.12:8080"), Dest: Dest{Forward: config.NAT, Weight: -1}},
		{Kind: AddDest, Key: keyV4, Addr: realV6, Dest: nat},
		{Kind: AddDest, Key: keyV6, Addr: realV6, Dest: Dest{Forward: config.DR, Weight: 3}},
		{Kind: UpdateDest, Key: badSched, Addr: realV4, Dest: nat},
		{Kind: UpdateDest, Key: keyV6, Addr: netip.MustParseAddrPort("[2001:db8:1::99]:53"), Dest: nat},
		{Kind: UpdateDest, Key: keyV6, Addr: realV6, Dest: Dest{Forward: config.DR, Weight: 4}},
		{Kind: DelDest, Key: keyMark, Addr: realV4},
		{Kind: DelDest, Key: keyV4, Addr: realV6},
		{Kind: DelService, Key: keyMark},
		{Kind: DelService, Key: keyV6},
	}
}

// sameOutcomes fails the test where two runs of ops differ: each
// operation's outcome (made, skipped, or the same errno) and the tables.
func sameOutcomes(t *testing.T, ops []Op, got, want []error, gotT, wantT Table) {
	t.Helper()
	if len(got) != len(ops) || len(want) != len(ops) {
		t.Fatalf("%d and %d outcomes for %d operations", len(got), len(want), len(ops))
	}
	for i := range ops {
		var ge, we syscall.Errno
		switch {
		case (got[i] == nil) != (want[i] == nil),
			errors.Is(got[i], ErrSkipped) != errors.Is(want[i], ErrSkipped),
			errors.As(got[i], &ge) != errors.As(want[i], &we) || ge != we:
			t.Errorf("op %d %v: pipelined %v, one at a time %v", i, ops[i], got[i], want[i])
		}
	}
	if !reflect.DeepEqual(gotT, wantT) {
		t.Errorf("tables differ:\npipelined   %v\none at a time %v", gotT, wantT)
	}
}

// TestPipelineMapsErrors: the pipelined writer reports, operation by
// operation, what applying them one at a time reports, whatever the
// window, and leaves the same table.
func TestPipelineMapsErrors(t *testing.T) {
	ops := scriptOps()
	seq := sequential{NewMemory()}
	want := applyAll(seq, ops)
	wantT, _ := seq.Table()
	failures := 0
	for _, err := range want {
		if err != nil {
			failures++
		}
	}
	if failures < 8 {
		t.Fatalf("the script fails %d operations: too few to test the mapping", failures)
	}
	for _, window := range []int{1, 2, 3, 5, pipelineWindow} {
		k := newPiped(t, window)
		got := applyAll(k, ops)
		gotT, _ := k.Table()
		sameOutcomes(t, ops, got, want, gotT, wantT)
		if window == pipelineWindow && k.conn.sends > 3 {
			t.Errorf("window %d: %d datagrams for %d operations", window, k.conn.sends, len(ops))
		}
		if len(k.conn.queue) != 0 {
			t.Errorf("window %d: %d answers left unread", window, len(k.conn.queue))
		}
		n, err := Apply(k, nil)
		if n != 0 || err != nil {
			t.Errorf("no operations: %d, %v", n, err)
		}
	}
}

// TestPipelineRandom compares the pipelined writer with one operation at
// a time over random runs of operations on a few services, most of which
// the kernel refuses somewhere.
func TestPipelineRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 16))
	keys := []ServiceKey{keyV4, keyV6, keyMark, {Protocol: syscall.IPPROTO_TCP, Addr: netip.MustParseAddrPort("192.0.2.12:443")}}
	reals := []netip.AddrPort{realV4, realV6, netip.MustParseAddrPort("198.51.100.13:80")}
	scheds := []string{"rr", "wlc", "nope"}
	for run := range 200 {
		ops := make([]Op, 1+rng.IntN(40))
		for i := range ops {
			op := Op{Kind: OpKind(rng.IntN(len(opNames))), Key: keys[rng.IntN(len(keys))], Addr: reals[rng.IntN(len(reals))]}
			op.Service = Service{Scheduler: scheds[rng.IntN(len(scheds))]}
			op.Dest = Dest{Forward: config.DR, Weight: rng.IntN(3) - 1}
			ops[i] = op
		}
		seq, k := sequential{NewMemory()}, newPiped(t, 1+rng.IntN(6))
		want, got := applyAll(seq, ops), applyAll(k, ops)
		wantT, _ := seq.Table()
		gotT, _ := k.Table()
		sameOutcomes(t, ops, got, want, gotT, wantT)
		if t.Failed() {
			t.Fatalf("run %d, window %d", run, k.p.window)
		}
	}
}

// TestPipelineOverrun: when answers are lost (the receive buffer
// overran), the errors that came are kept, the rest of the window is
// unknown, and the next window is not confused by what is left over.
func TestPipelineOverrun(t *testing.T) {
	k := newPiped(t, 8)
	var ops []Op
	for i := range 6 { // six services with a scheduler the kernel lacks
		ops = append(ops, Op{Kind: AddService, Key: ServiceKey{Protocol: syscall.IPPROTO_TCP,
			Addr: netip.AddrPortFrom(keyV4.Addr.Addr(), uint16(100+i))}, Service: Service{Scheduler: "nope"}})
	}
	ops = append(ops, Op{Kind: AddService, Key: keyV4, Service: Service{Scheduler: "rr"}})
	k.conn.limit = 2
	got := k.ApplyBatch(ops)
	for i, err := range got {
		switch {
		case i < 2 && !errors.Is(err, syscall.ENOENT):
			t.Errorf("op %d: %v, want the ENOENT that arrived", i, err)
		case i >= 2 && !errors.Is(err, ErrUnknown):
			t.Errorf("op %d: %v, want ErrUnknown (its answer was lost)", i, err)
		}
	}
	if len(k.conn.queue) != 0 {
		t.Errorf("%d answers left queued after the overrun", len(k.conn.queue))
	}
	// An answer of an earlier window still queued (one that came late)
	// says nothing of the next window.
	stale, err := appendOp(nil, 42, 1, nlmFRequest, ops[0])
	if err != nil {
		t.Fatal(err)
	}
	k.conn.limit = 0
	k.conn.answer(stale, syscall.ENOENT)
	good := []Op{{Kind: AddDest, Key: keyV4, Addr: realV4, Dest: Dest{Forward: config.NAT, Weight: 1}}}
	if errs := k.ApplyBatch(good); errs[0] != nil {
		t.Errorf("after an overrun: %v", errs[0])
	}
	if tb, _ := k.Table(); len(tb[keyV4].Dests) != 1 {
		t.Errorf("table %v, want keyV4 (made, though its answer was lost) with its destination", tb)
	}
}

// TestPipelineSendFails: a datagram the socket refuses makes nothing, and
// every operation in it reports the error; the next window goes on.
func TestPipelineSendFails(t *testing.T) {
	k := newPiped(t, 2)
	ops := []Op{
		{Kind: AddService, Key: keyV4, Service: Service{Scheduler: "rr"}},
		{Kind: AddService, Key: keyV6, Service: Service{Scheduler: "rr"}},
		{Kind: AddService, Key: keyMark, Service: Service{Scheduler: "rr"}},
	}
	k.conn.sendErr = syscall.EMSGSIZE
	got := k.ApplyBatch(ops)
	if !errors.Is(got[0], syscall.EMSGSIZE) || !errors.Is(got[1], syscall.EMSGSIZE) || got[2] != nil {
		t.Errorf("outcomes %v, want EMSGSIZE for the first window, made for the second", got)
	}
	if tb, _ := k.Table(); len(tb) != 1 {
		t.Errorf("table %v, want only the second window's service", tb)
	}
}
