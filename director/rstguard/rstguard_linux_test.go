package rstguard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// regByte returns where register reg starts among the kernel's data
// registers, in bytes. nft_parse_register (net/netfilter/nf_tables_api.c)
// overlays the four 16-byte registers NFT_REG_1..4 and the sixteen 32-bit
// registers NFT_REG32_00..15 on the same space.
func regByte(reg uint32) uint32 {
	if reg >= unix.NFT_REG32_00 {
		return (reg - unix.NFT_REG32_00) * 4
	}
	return (reg - unix.NFT_REG_1) * 16
}

// guardFor returns a Guard whose connection never dials: nftables.Conn
// only queues messages until Flush, and these tests never flush.
func guardFor(t *testing.T, name string) *Guard {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	return newGuard(c, name)
}

func TestResetRuleLoadsTheSetKey(t *testing.T) {
	g := guardFor(t, "lvsd")
	for _, tt := range []struct {
		f       family
		set     *nftables.Set
		nfproto byte
		ep      netip.AddrPort
	}{
		{ipv4, g.set4, 2, netip.MustParseAddrPort("192.0.2.10:80")},
		{ipv6, g.set6, 10, netip.MustParseAddrPort("[2001:db8::10]:443")},
	} {
		exprs := resetRule(tt.f, tt.set)
		key, _ := setKey(tt.ep)
		if got := tt.set.KeyType.Bytes; got != uint32(len(key)) {
			t.Errorf("%s: key type of %d bytes, setKey gives %d", tt.set.Name, got, len(key))
		}
		// The two loads just before the lookup fill its key: the source
		// address from the first data register, the source port in the
		// register right after it.
		n := len(exprs)
		addr, port := exprs[n-5].(*expr.Payload), exprs[n-4].(*expr.Payload)
		look := exprs[n-3].(*expr.Lookup)
		if addr.Base != expr.PayloadBaseNetworkHeader || addr.Offset != tt.f.addrOff || addr.Len != uint32(len(tt.ep.Addr().AsSlice())) || regByte(addr.DestRegister) != 0 {
			t.Errorf("%s: address load %+v", tt.set.Name, addr)
		}
		if port.Base != expr.PayloadBaseTransportHeader || port.Offset != 0 || port.Len != 2 || regByte(port.DestRegister) != addr.Len {
			t.Errorf("%s: port load %+v: register at byte %d, want %d", tt.set.Name, port, regByte(port.DestRegister), addr.Len)
		}
		if look.SetName != tt.set.Name || look.SetID != tt.set.ID || look.Invert || regByte(look.SourceRegister) != 0 {
			t.Errorf("%s: lookup %+v", tt.set.Name, look)
		}
		if _, ok := exprs[n-2].(*expr.Counter); !ok {
			t.Errorf("%s: %T before the verdict, want a counter", tt.set.Name, exprs[n-2])
		}
		if v, ok := exprs[n-1].(*expr.Verdict); !ok || v.Kind != expr.VerdictDrop {
			t.Errorf("%s: last expression %#v, want drop", tt.set.Name, exprs[n-1])
		}
		// The matches before the loads: this family, TCP, RST set.
		want := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: unix.NFT_REG_1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{tt.nfproto}},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: unix.NFT_REG_1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{6}},
			&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 1, Mask: []byte{0x04}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: unix.NFT_REG_1, Data: []byte{0}},
		}
		if got := exprs[:n-5]; !sameExprs(got, want) {
			t.Errorf("%s: matches\n got %s\nwant %s", tt.set.Name, show(got), show(want))
		}
	}
}

func TestNewGuardLayout(t *testing.T) {
	g := guardFor(t, "lvsd")
	if g.table.Name != "lvsd" || g.table.Family != nftables.TableFamilyINet {
		t.Errorf("table %+v, want inet lvsd", g.table)
	}
	for _, s := range []struct {
		set   *nftables.Set
		name  string
		bytes uint32
		kind  string
	}{
		{g.set4, "held4", key4Len, "ipv4_addr . inet_service"},
		{g.set6, "held6", key6Len, "ipv6_addr . inet_service"},
	} {
		if s.set.Name != s.name || s.set.KeyType.Bytes != s.bytes || s.set.KeyType.Name != s.kind ||
			!s.set.HasTimeout || !s.set.Concatenation || s.set.Timeout != 0 || s.set.ID == 0 || s.set.Table != g.table {
			t.Errorf("set %+v, want %s typed %s (%d bytes) with flag timeout and no default timeout", s.set, s.name, s.kind, s.bytes)
		}
	}
	if g.set4.ID == g.set6.ID {
		t.Errorf("both sets have ID %d", g.set4.ID)
	}
	c := g.chain
	if c.Type != nftables.ChainTypeFilter || *c.Hooknum != unix.NF_INET_LOCAL_OUT || *c.Priority != 0 ||
		*c.Policy != nftables.ChainPolicyAccept || c.Table != g.table {
		t.Errorf("chain %+v, want filter hook output priority 0 policy accept", c)
	}
}

func TestElementsChunks(t *testing.T) {
	keys := make([][]byte, 2*maxElemsPerMsg+5)
	for i := range keys {
		keys[i], _ = setKey(netip.AddrPortFrom(netip.MustParseAddr("2001:db8::"), uint16(i)))
	}
	chunks := elements(keys, 1500*time.Millisecond)
	if len(chunks) != 3 || len(chunks[0]) != maxElemsPerMsg || len(chunks[1]) != maxElemsPerMsg || len(chunks[2]) != 5 {
		t.Fatalf("%d chunks, want %d, %d and 5 elements", len(chunks), maxElemsPerMsg, maxElemsPerMsg)
	}
	for _, e := range chunks[2] {
		if e.Timeout != 1500*time.Millisecond {
			t.Fatalf("element timeout %v, want 1.5s", e.Timeout)
		}
	}
}

// sentMsg is one message of a batch, decoded as far as the tests need.
type sentMsg struct {
	kind  string // "flush held4", "add held6"
	keys  [][]byte
	msecs []uint64 // element timeouts
}

// recordBatches returns a Guard whose connection hands each batch to a
// fake kernel that acknowledges every message, and the batches it got.
func recordBatches(t *testing.T) (*Guard, *[][]sentMsg) {
	t.Helper()
	var batches [][]sentMsg
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		var acks []netlink.Message
		var batch []sentMsg
		for _, m := range req {
			if m.Header.Flags&netlink.Acknowledge != 0 {
				acks = append(acks, netlink.Message{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 4)})
			}
			switch m.Header.Type & 0xff {
			case unix.NFNL_MSG_BATCH_BEGIN, unix.NFNL_MSG_BATCH_END:
			default:
				batch = append(batch, decodeSetElems(t, m))
			}
		}
		if req != nil {
			batches = append(batches, batch)
		} else {
			// The library reads one ack per message; the fake socket
			// asks again with nil once the first answer is drained.
			acks = []netlink.Message{{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 4)}}
		}
		return acks, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return newGuard(c, "lvsd"), &batches
}

// decodeSetElems decodes a NEWSETELEM or DELSETELEM message.
func decodeSetElems(t *testing.T, m netlink.Message) sentMsg {
	t.Helper()
	var out sentMsg
	switch m.Header.Type & 0xff {
	case unix.NFT_MSG_DELSETELEM:
		out.kind = "flush "
	case unix.NFT_MSG_NEWSETELEM:
		out.kind = "add "
	default:
		t.Fatalf("message type %#x, want a set element message", m.Header.Type)
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:]) // after struct nfgenmsg
	if err != nil {
		t.Fatal(err)
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_SET_ELEM_LIST_SET:
			out.kind += ad.String()
		case unix.NFTA_SET_ELEM_LIST_ELEMENTS:
			ad.Nested(func(elems *netlink.AttributeDecoder) error {
				for elems.Next() {
					elems.Nested(func(e *netlink.AttributeDecoder) error {
						e.ByteOrder = binary.BigEndian
						for e.Next() {
							switch e.Type() {
							case unix.NFTA_SET_ELEM_KEY:
								e.Nested(func(k *netlink.AttributeDecoder) error {
									for k.Next() {
										out.keys = append(out.keys, k.Bytes())
									}
									return nil
								})
							case unix.NFTA_SET_ELEM_TIMEOUT:
								out.msecs = append(out.msecs, e.Uint64())
							}
						}
						return nil
					})
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		t.Fatalf("%s: %v", out.kind, err)
	}
	return out
}

func TestHoldSendsOneBatch(t *testing.T) {
	g, batches := recordBatches(t)
	eps := []netip.AddrPort{
		netip.MustParseAddrPort("192.0.2.10:80"),
		netip.MustParseAddrPort("[2001:db8::10]:443"),
		netip.MustParseAddrPort("[::ffff:192.0.2.11]:80"),
	}
	if err := g.Hold(eps, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := g.Hold(nil, 0); err != nil {
		t.Fatal(err)
	}
	ip6 := netip.MustParseAddr("2001:db8::10").AsSlice()
	want := [][]sentMsg{
		{
			{kind: "flush held4"},
			{kind: "flush held6"},
			{kind: "add held4", keys: [][]byte{{192, 0, 2, 10, 0, 80, 0, 0}, {192, 0, 2, 11, 0, 80, 0, 0}}, msecs: []uint64{1500, 1500}},
			{kind: "add held6", keys: [][]byte{append(ip6, 0x01, 0xbb, 0, 0)}, msecs: []uint64{1500}},
		},
		{{kind: "flush held4"}, {kind: "flush held6"}}, // release: no empty adds
	}
	if !reflect.DeepEqual(*batches, want) {
		t.Errorf("batches\n got %+v\nwant %+v", *batches, want)
	}
}

// TestHoldManyEndpoints holds more IPv6 endpoints than one element list
// can carry: the netlink library would wrap the 16-bit attribute length
// without an error, so every element must still arrive, in chunks.
func TestHoldManyEndpoints(t *testing.T) {
	g, batches := recordBatches(t)
	eps := make([]netip.AddrPort, 2*maxElemsPerMsg+5)
	for i := range eps {
		eps[i] = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::10"), uint16(i+1))
	}
	if err := g.Hold(eps, time.Second); err != nil {
		t.Fatal(err)
	}
	if len(*batches) != 1 {
		t.Fatalf("%d batches, want 1", len(*batches))
	}
	got := 0
	for _, m := range (*batches)[0] {
		if m.kind == "add held6" {
			got += len(m.keys)
			if len(m.keys) != len(m.msecs) {
				t.Errorf("%d keys, %d timeouts", len(m.keys), len(m.msecs))
			}
		}
	}
	if got != len(eps) {
		t.Errorf("%d elements arrived, want %d", got, len(eps))
	}
}

func TestSumCounters(t *testing.T) {
	rule := func(pkts uint64) *nftables.Rule {
		return &nftables.Rule{Exprs: []expr.Any{&expr.Lookup{}, &expr.Counter{Packets: pkts, Bytes: 40 * pkts}, &expr.Verdict{Kind: expr.VerdictDrop}}}
	}
	if n, err := sumCounters([]*nftables.Rule{rule(3), rule(4)}); err != nil || n != 7 {
		t.Errorf("sumCounters(3, 4) = %d, %v; want 7", n, err)
	}
	if _, err := sumCounters([]*nftables.Rule{rule(3)}); err == nil {
		t.Error("sumCounters of one rule: no error, want one (the chain was changed)")
	}
	if _, err := sumCounters(nil); err == nil {
		t.Error("sumCounters of no rules: no error")
	}
}

func TestHoldRefusesBeforeTheKernel(t *testing.T) {
	g := guardFor(t, "lvsd")
	ep := netip.MustParseAddrPort("192.0.2.10:80")
	tests := []struct {
		eps  []netip.AddrPort
		d    time.Duration
		want string
	}{
		{[]netip.AddrPort{ep, {}}, time.Second, "rstguard: hold in table inet lvsd: endpoint 1: no address"},
		{[]netip.AddrPort{ep}, 0, "rstguard: hold in table inet lvsd: window 0s: shorter than 1ms"},
	}
	for _, tt := range tests {
		err := g.Hold(tt.eps, tt.d)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Hold(%v, %v) = %v, want %q...", tt.eps, tt.d, err, tt.want)
		}
	}
}

func TestClosedGuardRefuses(t *testing.T) {
	g := guardFor(t, "lvsd")
	g.closed = true
	if err := g.Hold(nil, 0); !errors.Is(err, errClosed) {
		t.Errorf("Hold on a closed guard: %v", err)
	}
	if _, err := g.Held(); !errors.Is(err, errClosed) {
		t.Errorf("Held on a closed guard: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
}

func TestOpenRefusesEmptyName(t *testing.T) {
	if g, err := Open(""); err == nil {
		g.Close()
		t.Error("Open(\"\"): no error")
	}
}

func sameExprs(a, b []expr.Any) bool { return reflect.DeepEqual(a, b) }

func show(es []expr.Any) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%T%+v", e, e)
	}
	return strings.Join(parts, " ")
}
