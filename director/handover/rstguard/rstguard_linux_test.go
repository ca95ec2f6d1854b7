package rstguard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
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

func TestRulesLoadTheSetKey(t *testing.T) {
	g := guardFor(t, "lvsd")
	tcp := func(nfproto byte) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: unix.NFT_REG_1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{nfproto}},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: unix.NFT_REG_1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{6}},
		}
	}
	rst := []expr.Any{
		&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 1, Mask: []byte{0x04}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: unix.NFT_REG_1, Data: []byte{0}},
	}
	tests := []struct {
		chain   *nftables.Chain
		set     *nftables.Set
		addrOff uint32
		ep      netip.AddrPort
		matches []expr.Any // before the loads
	}{
		// Resets: this family, TCP, RST set.
		{g.output, g.held4, 12, netip.MustParseAddrPort("192.0.2.10:80"), append(tcp(2), rst...)},
		{g.output, g.held6, 8, netip.MustParseAddrPort("[2001:db8::10]:443"), append(tcp(10), rst...)},
		// Replies: this family, TCP, whatever the flags.
		{g.forward, g.replies4, 12, netip.MustParseAddrPort("198.51.100.11:8080"), tcp(2)},
		{g.forward, g.replies6, 8, netip.MustParseAddrPort("[2001:db8::11]:8080"), tcp(10)},
	}
	rules := g.rules()
	if len(rules) != len(tests) {
		t.Fatalf("%d rules, want %d", len(rules), len(tests))
	}
	for i, tt := range tests {
		r := rules[i]
		if r.chain != tt.chain || r.set != tt.set {
			t.Errorf("rule %d: chain %s, set %s; want %s, %s", i, r.chain.Name, r.set.Name, tt.chain.Name, tt.set.Name)
			continue
		}
		exprs := r.exprs
		key, _ := setKey(tt.ep)
		if got := tt.set.KeyType.Bytes; got != uint32(len(key)) {
			t.Errorf("%s: key type of %d bytes, setKey gives %d", tt.set.Name, got, len(key))
		}
		// The two loads just before the lookup fill its key: the source
		// address from the first data register, the source port in the
		// register right after it.
		n := len(exprs)
		if n < 5 {
			t.Fatalf("%s: %d expressions: %s", tt.set.Name, n, show(exprs))
		}
		addr, port := exprs[n-5].(*expr.Payload), exprs[n-4].(*expr.Payload)
		look := exprs[n-3].(*expr.Lookup)
		if addr.Base != expr.PayloadBaseNetworkHeader || addr.Offset != tt.addrOff || addr.Len != uint32(len(tt.ep.Addr().AsSlice())) || regByte(addr.DestRegister) != 0 {
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
		if got := exprs[:n-5]; !sameExprs(got, tt.matches) {
			t.Errorf("%s: matches\n got %s\nwant %s", tt.set.Name, show(got), show(tt.matches))
		}
	}
}

func TestNewGuardLayout(t *testing.T) {
	g := guardFor(t, "lvsd")
	if g.table.Name != "lvsd" || g.table.Family != nftables.TableFamilyINet {
		t.Errorf("table %+v, want inet lvsd", g.table)
	}
	ids := map[uint32]string{}
	for _, s := range []struct {
		set   *nftables.Set
		name  string
		bytes uint32
		kind  string
	}{
		{g.held4, "held4", key4Len, "ipv4_addr . inet_service"},
		{g.held6, "held6", key6Len, "ipv6_addr . inet_service"},
		{g.replies4, "replies4", key4Len, "ipv4_addr . inet_service"},
		{g.replies6, "replies6", key6Len, "ipv6_addr . inet_service"},
	} {
		if s.set.Name != s.name || s.set.KeyType.Bytes != s.bytes || s.set.KeyType.Name != s.kind ||
			!s.set.HasTimeout || !s.set.Concatenation || s.set.Timeout != 0 || s.set.ID == 0 || s.set.Table != g.table {
			t.Errorf("set %+v, want %s typed %s (%d bytes) with flag timeout and no default timeout", s.set, s.name, s.kind, s.bytes)
		}
		if other, ok := ids[s.set.ID]; ok {
			t.Errorf("sets %s and %s both have ID %d", other, s.name, s.set.ID)
		}
		ids[s.set.ID] = s.name
	}
	for _, c := range []struct {
		chain *nftables.Chain
		name  string
		hook  uint32
		prio  nftables.ChainPriority
	}{
		{g.output, "output", unix.NF_INET_LOCAL_OUT, 0},
		// Right after IPVS's NAT reply hook (forward, 100), never at 0.
		{g.forward, "forward", unix.NF_INET_FORWARD, 102},
	} {
		ch := c.chain
		if ch.Name != c.name || ch.Type != nftables.ChainTypeFilter || uint32(*ch.Hooknum) != c.hook || *ch.Priority != c.prio ||
			*ch.Policy != nftables.ChainPolicyAccept || ch.Table != g.table {
			t.Errorf("chain %+v, want %s: filter hook %d priority %d policy accept", ch, c.name, c.hook, c.prio)
		}
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
	kind  string // "flush held4", "add replies6"
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
	h := Holds{
		Resets: []netip.AddrPort{
			netip.MustParseAddrPort("192.0.2.10:80"),
			netip.MustParseAddrPort("[2001:db8::10]:443"),
			netip.MustParseAddrPort("[::ffff:192.0.2.11]:80"),
		},
		Replies: []netip.AddrPort{
			netip.MustParseAddrPort("198.51.100.11:8080"),
			netip.MustParseAddrPort("198.51.100.12:8080"),
			netip.MustParseAddrPort("[::ffff:198.51.100.11]:8080"), // same as the first
		},
	}
	if err := g.Hold(h, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := g.Hold(Holds{Replies: []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::11]:8080")}}, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := g.Hold(Holds{}, 0); err != nil {
		t.Fatal(err)
	}
	flushes := []sentMsg{{kind: "flush held4"}, {kind: "flush held6"}, {kind: "flush replies4"}, {kind: "flush replies6"}}
	ip6 := netip.MustParseAddr("2001:db8::10").AsSlice()
	rs6 := netip.MustParseAddr("2001:db8::11").AsSlice()
	want := [][]sentMsg{
		append(slices.Clone(flushes),
			sentMsg{kind: "add held4", keys: [][]byte{{192, 0, 2, 10, 0, 80, 0, 0}, {192, 0, 2, 11, 0, 80, 0, 0}}, msecs: []uint64{1500, 1500}},
			sentMsg{kind: "add held6", keys: [][]byte{append(ip6, 0x01, 0xbb, 0, 0)}, msecs: []uint64{1500}},
			sentMsg{kind: "add replies4", keys: [][]byte{{198, 51, 100, 11, 0x1f, 0x90, 0, 0}, {198, 51, 100, 12, 0x1f, 0x90, 0, 0}}, msecs: []uint64{1500, 1500}},
		),
		// Only replies: every set is flushed still, so the resets held
		// before are released.
		append(slices.Clone(flushes),
			sentMsg{kind: "add replies6", keys: [][]byte{append(rs6, 0x1f, 0x90, 0, 0)}, msecs: []uint64{1000}},
		),
		flushes, // release: no empty adds
	}
	if !reflect.DeepEqual(*batches, want) {
		t.Errorf("batches\n got %+v\nwant %+v", *batches, want)
	}
}

// TestHoldManyEndpoints holds more IPv6 endpoints than one element list
// can carry, of both kinds: the netlink library would wrap the 16-bit
// attribute length without an error, so every element must still arrive,
// in chunks, in one batch.
func TestHoldManyEndpoints(t *testing.T) {
	g, batches := recordBatches(t)
	endpoints := func(addr string) []netip.AddrPort {
		eps := make([]netip.AddrPort, 2*maxElemsPerMsg+5)
		for i := range eps {
			eps[i] = netip.AddrPortFrom(netip.MustParseAddr(addr), uint16(i+1))
		}
		return eps
	}
	h := Holds{Resets: endpoints("2001:db8::10"), Replies: endpoints("2001:db8::11")}
	if err := g.Hold(h, time.Second); err != nil {
		t.Fatal(err)
	}
	if len(*batches) != 1 {
		t.Fatalf("%d batches, want 1", len(*batches))
	}
	got := map[string]int{}
	for _, m := range (*batches)[0] {
		got[m.kind] += len(m.keys)
		if len(m.keys) > maxElemsPerMsg || len(m.keys) != len(m.msecs) {
			t.Errorf("%s: %d keys, %d timeouts", m.kind, len(m.keys), len(m.msecs))
		}
	}
	if got["add held6"] != len(h.Resets) || got["add replies6"] != len(h.Replies) {
		t.Errorf("%d and %d elements arrived in held6 and replies6, want %d and %d",
			got["add held6"], got["add replies6"], len(h.Resets), len(h.Replies))
	}
}

func TestSumCounters(t *testing.T) {
	rule := func(chain string, pkts uint64) *nftables.Rule {
		return &nftables.Rule{Chain: &nftables.Chain{Name: chain}, Exprs: []expr.Any{
			&expr.Lookup{}, &expr.Counter{Packets: pkts, Bytes: 40 * pkts}, &expr.Verdict{Kind: expr.VerdictDrop},
		}}
	}
	all := []*nftables.Rule{rule("output", 3), rule("output", 4), rule("forward", 5), rule("forward", 0)}
	if resets, replies, err := sumCounters(all); err != nil || resets != 7 || replies != 5 {
		t.Errorf("sumCounters(output 3, 4, forward 5, 0) = %d, %d, %v; want 7, 5", resets, replies, err)
	}
	for name, rules := range map[string][]*nftables.Rule{
		"no rules":                  nil,
		"one rule missing":          all[:3],
		"output only":               all[:2],
		"a rule moved":              {all[0], all[1], all[2], rule("output", 1)},
		"a rule in a foreign chain": append(slices.Clone(all), rule("input", 1)),
		"a rule added to forward":   append(slices.Clone(all), rule("forward", 1)),
		"a rule without its chain":  {all[0], all[1], all[2], {Exprs: all[3].Exprs}},
		"a counter added to a rule": {all[0], all[1], all[2], {Chain: all[3].Chain, Exprs: append(slices.Clone(all[3].Exprs), &expr.Counter{})}},
	} {
		if _, _, err := sumCounters(rules); err == nil {
			t.Errorf("sumCounters with %s: no error, want one (the table was changed)", name)
		}
	}
}

func TestHoldRefusesBeforeTheKernel(t *testing.T) {
	g := guardFor(t, "lvsd")
	ep := netip.MustParseAddrPort("192.0.2.10:80")
	tests := []struct {
		h    Holds
		d    time.Duration
		want string
	}{
		{Holds{Resets: []netip.AddrPort{ep, {}}}, time.Second, "rstguard: hold in table inet lvsd: resets: endpoint 1: no address"},
		{Holds{Resets: []netip.AddrPort{ep}, Replies: []netip.AddrPort{{}}}, time.Second, "rstguard: hold in table inet lvsd: replies: endpoint 0: no address"},
		{Holds{Resets: []netip.AddrPort{ep}}, 0, "rstguard: hold in table inet lvsd: window 0s: shorter than 1ms"},
		{Holds{Replies: []netip.AddrPort{ep}}, 0, "rstguard: hold in table inet lvsd: window 0s: shorter than 1ms"},
	}
	for _, tt := range tests {
		err := g.Hold(tt.h, tt.d)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Hold(%+v, %v) = %v, want %q...", tt.h, tt.d, err, tt.want)
		}
	}
}

func TestClosedGuardRefuses(t *testing.T) {
	g := guardFor(t, "lvsd")
	g.closed = true
	if err := g.Hold(Holds{}, 0); !errors.Is(err, errClosed) {
		t.Errorf("Hold on a closed guard: %v", err)
	}
	if _, err := g.Held(); !errors.Is(err, errClosed) {
		t.Errorf("Held on a closed guard: %v", err)
	}
	if _, _, err := g.HeldByKind(); !errors.Is(err, errClosed) {
		t.Errorf("HeldByKind on a closed guard: %v", err)
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
