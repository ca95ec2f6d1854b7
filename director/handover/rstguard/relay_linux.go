package rstguard

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The relay's routing: a packet marked relayMark is routed by table
// relayTable, whose one route makes every destination local. Only the
// relay's prerouting rule sets the mark, and only on the VIP:ports of
// Relays.Local, whose elements the kernel expires: if lvsd dies, nothing
// is marked after the window, and the rule and route route nothing.
// 0x4c56 is "LV".
const (
	relayMark     = 0x4c56
	relayTable    = 0x4c56
	relayRulePref = 0x4c56
)

// ipvsInPriority is the input hook priority of ip_vs_in_hook
// (NF_IP_PRI_NAT_SRC - 1, net/netfilter/ipvs/ip_vs_core.c): a chain after
// it sees only what IPVS left to the local stack.
const ipvsInPriority = 99

// Relay owns one nftables table of family ip with the relay's sets and
// chains (see Relays), and the routing rule and route that make relayed
// packets local. Its methods are safe for concurrent use.
type Relay struct {
	mu                  sync.Mutex
	conn                *nftables.Conn
	table               *nftables.Table
	in, replies, local  *nftables.Set
	pre, input, forward *nftables.Chain
	// nl is a routing socket in OpenRelay's namespace, for the rule and
	// route, whatever thread Close runs on.
	nl     *netlink.Handle
	closed bool
}

func newRelay(conn *nftables.Conn, name string) *Relay {
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}
	key := nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
	set := func(id uint32, setName string, isMap bool) *nftables.Set {
		s := &nftables.Set{Table: t, ID: id, Name: setName, KeyType: key, KeyByteOrder: binaryutil.BigEndian,
			Concatenation: true, HasTimeout: true, IsMap: isMap}
		if isMap {
			s.DataType = nftables.TypeIPAddr
		}
		return s
	}
	accept := nftables.ChainPolicyAccept
	chain := func(name string, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return &nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: prio, Policy: &accept}
	}
	return &Relay{
		conn: conn, table: t,
		in: set(11, "in", true), replies: set(12, "replies", true), local: set(13, "local", false),
		pre: chain("prerouting", nftables.ChainHookPrerouting, nftables.ChainPriorityMangle),
		// After ip_vs_in_hook: what reaches the chain is what IPVS did not
		// take, a segment of a connection this director does not know.
		input: chain("input", nftables.ChainHookInput, nftables.ChainPriorityRef(ipvsInPriority+2)),
		// After ip_vs_out_hook (100) and before the Guard's forward chain
		// (replyPriority): an untranslated reply is relayed rather than
		// dropped while both are armed.
		forward: chain("forward", nftables.ChainHookForward, nftables.ChainPriorityRef(ipvsOutPriority+1)),
	}
}

// relayRules returns the relay's three rules:
//
//	prerouting: meta l4proto tcp ip daddr . tcp dport @local meta mark set relayMark counter
//	input:      meta l4proto tcp tcp flags & syn == 0 dup to ip daddr . tcp dport map @in counter drop
//	forward:    meta l4proto tcp dup to ip saddr . tcp sport map @replies counter drop
func (r *Relay) relayRules() []*nftables.Rule {
	tcp := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: unix.NFT_REG_1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{unix.IPPROTO_TCP}},
	}
	endpoint := func(addrOff, portOff uint32) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseNetworkHeader, Offset: addrOff, Len: 4},
			&expr.Payload{DestRegister: unix.NFT_REG32_01, Base: expr.PayloadBaseTransportHeader, Offset: portOff, Len: 2},
		}
	}
	dst, src := endpoint(16, 2), endpoint(12, 0) // RFC 791 section 3.1, RFC 9293 section 3.1
	noSYN := []expr.Any{
		&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseTransportHeader, Offset: tcpFlagsOff, Len: 1},
		&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 1, Mask: []byte{tcpSYN}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{0}},
	}
	relayTo := func(m *nftables.Set) []expr.Any {
		return []expr.Any{
			&expr.Lookup{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_2, IsDestRegSet: true, SetName: m.Name, SetID: m.ID},
			&expr.Dup{RegAddr: unix.NFT_REG_2},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}
	}
	mark := binaryutil.NativeEndian.PutUint32(relayMark)
	return []*nftables.Rule{
		{Table: r.table, Chain: r.pre, Exprs: slices.Concat(tcp, dst,
			[]expr.Any{
				&expr.Lookup{SourceRegister: unix.NFT_REG_1, SetName: r.local.Name, SetID: r.local.ID},
				&expr.Immediate{Register: unix.NFT_REG_1, Data: mark},
				&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: unix.NFT_REG_1},
				&expr.Counter{},
			})},
		{Table: r.table, Chain: r.input, Exprs: slices.Concat(tcp, noSYN, dst, relayTo(r.in))},
		{Table: r.table, Chain: r.forward, Exprs: slices.Concat(tcp, src, relayTo(r.replies))},
	}
}

// OpenRelay creates the relay's table name (family ip) in the calling
// thread's network namespace, replacing a stale one, and its routing rule
// and route.
func OpenRelay(name string) (*Relay, error) {
	if name == "" {
		return nil, errors.New("rstguard: open relay: empty table name")
	}
	conn, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("rstguard: open netlink for table ip %s: %w", name, err)
	}
	r := newRelay(conn, name)
	if r.nl, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
		_ = conn.CloseLasting()
		return nil, fmt.Errorf("rstguard: open routing netlink: %w", err)
	}
	if err := r.create(); err != nil {
		r.conn.DelTable(r.table)
		_ = r.conn.Flush()
		_ = r.conn.CloseLasting()
		_ = r.routeLocal(false)
		r.nl.Close()
		return nil, err
	}
	return r, nil
}

func (r *Relay) create() error {
	c, t := r.conn, r.table
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("rstguard: delete stale table ip %s: %w", t.Name, err)
	}
	c.AddTable(t)
	for _, s := range []*nftables.Set{r.in, r.replies, r.local} {
		if err := c.AddSet(s, nil); err != nil {
			return fmt.Errorf("rstguard: add set %s/%s: %w", t.Name, s.Name, err)
		}
	}
	for _, ch := range []*nftables.Chain{r.pre, r.input, r.forward} {
		c.AddChain(ch)
	}
	for _, rule := range r.relayRules() {
		c.AddRule(rule)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("rstguard: create table ip %s: %w", t.Name, err)
	}
	return r.routeLocal(true)
}

// routeLocal adds (or with add false removes) the rule and route that
// make packets marked relayMark local.
func (r *Relay) routeLocal(add bool) error {
	rule := netlink.NewRule()
	rule.Family = unix.AF_INET
	rule.Mark = relayMark
	rule.Table = relayTable
	rule.Priority = relayRulePref
	route := &netlink.Route{Type: unix.RTN_LOCAL, Table: relayTable, Scope: netlink.SCOPE_HOST,
		Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}}
	lo, err := r.nl.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("rstguard: relay route: %w", err)
	}
	route.LinkIndex = lo.Attrs().Index
	if !add {
		return errors.Join(ignoreMissing(r.nl.RuleDel(rule)), ignoreMissing(r.nl.RouteDel(route)))
	}
	_ = r.nl.RuleDel(rule) // a stale one from a crashed run
	if err := r.nl.RouteReplace(route); err != nil {
		return fmt.Errorf("rstguard: add local route to table %d: %w", relayTable, err)
	}
	if err := r.nl.RuleAdd(rule); err != nil {
		return fmt.Errorf("rstguard: add rule fwmark %#x lookup %d: %w", relayMark, relayTable, err)
	}
	return nil
}

func ignoreMissing(err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// Relay replaces everything relayed with rel, In and Replies expiring in
// the kernel after d and Local after rel.LocalFor (d when zero), in one
// batch.
func (r *Relay) Relay(rel Relays, d time.Duration) error {
	fail := func(err error) error { return fmt.Errorf("rstguard: relay in table ip %s: %w", r.table.Name, err) }
	k, err := rel.keys()
	local := rel.localFor(d)
	if err == nil {
		err = k.check(d, local)
	}
	if err != nil {
		return fail(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fail(errClosed)
	}
	for _, s := range []*nftables.Set{r.in, r.replies, r.local} {
		r.conn.FlushSet(s)
	}
	mapElems := func(kv [][2][]byte) []nftables.SetElement {
		out := make([]nftables.SetElement, len(kv))
		for i, e := range kv {
			out[i] = nftables.SetElement{Key: e[0], Val: e[1], Timeout: d}
		}
		return out
	}
	adds := []struct {
		set   *nftables.Set
		elems []nftables.SetElement
	}{{r.in, mapElems(k.in)}, {r.replies, mapElems(k.replies)}}
	for _, chunk := range elements(k.local, local) {
		adds = append(adds, struct {
			set   *nftables.Set
			elems []nftables.SetElement
		}{r.local, chunk})
	}
	for _, a := range adds {
		if len(a.elems) == 0 {
			continue
		}
		if err := r.conn.SetAddElements(a.set, a.elems); err != nil {
			return fail(fmt.Errorf("add elements to %s: %w", a.set.Name, err))
		}
	}
	if err := r.conn.Flush(); err != nil {
		return fail(err)
	}
	return nil
}

// Relayed returns how many packets the relay has passed on (input and
// forward) since OpenRelay.
func (r *Relay) Relayed() (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errClosed
	}
	var n uint64
	for _, ch := range []*nftables.Chain{r.input, r.forward} {
		rules, err := r.conn.GetRules(r.table, ch)
		if err != nil {
			return 0, fmt.Errorf("rstguard: read counters of %s/%s: %w", r.table.Name, ch.Name, err)
		}
		for _, rule := range rules {
			for _, e := range rule.Exprs {
				if c, ok := e.(*expr.Counter); ok {
					n += c.Packets
				}
			}
		}
	}
	return n, nil
}

// Close deletes the table, the rule and the route, and closes the netlink
// socket.
func (r *Relay) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	r.conn.DelTable(r.table)
	if err := r.conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("rstguard: delete table ip %s: %w", r.table.Name, err))
	}
	errs = append(errs, r.routeLocal(false))
	r.nl.Close()
	if err := r.conn.CloseLasting(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
