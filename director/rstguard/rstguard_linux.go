package rstguard

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Guard owns one nftables table of family inet, in the network namespace
// that Open ran in, and drops the resets sent from the endpoints given to
// Hold. Its methods are safe for concurrent use. Two Guards must not
// share a table name in one namespace: each Open replaces the table and
// each Close deletes it.
type Guard struct {
	// mu serialises every use of conn: it is one netlink socket with one
	// stream of replies, and nftables.Conn only locks Flush, so a
	// concurrent GetRules would read Flush's acks (or the reverse).
	mu         sync.Mutex
	conn       *nftables.Conn
	table      *nftables.Table
	set4, set6 *nftables.Set
	chain      *nftables.Chain
	closed     bool
}

var errClosed = errors.New("guard closed")

// family is what the reset rule of one address family needs.
type family struct {
	nfproto byte   // meta nfproto (the inet table sees both families)
	addrOff uint32 // of the source address in the network header
	addrLen uint32
}

var (
	ipv4 = family{nfproto: unix.NFPROTO_IPV4, addrOff: 12, addrLen: 4} // RFC 791 section 3.1
	ipv6 = family{nfproto: unix.NFPROTO_IPV6, addrOff: 8, addrLen: 16} // RFC 8200 section 3
)

// The flags byte of the TCP header and its RST bit (RFC 9293 section 3.1).
const (
	tcpFlagsOff = 13
	tcpRST      = 0x04
)

// newGuard describes table name and its objects; nothing touches the
// kernel yet.
func newGuard(conn *nftables.Conn, name string) *Guard {
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
	set := func(id uint32, setName string, addr nftables.SetDatatype) *nftables.Set {
		return &nftables.Set{
			Table: t,
			// A fixed ID: with ID 0 the library takes one from a package
			// counter that it increments without a lock.
			ID:            id,
			Name:          setName,
			KeyType:       nftables.MustConcatSetType(addr, nftables.TypeInetService),
			KeyByteOrder:  binaryutil.BigEndian,
			Concatenation: true,
			HasTimeout:    true,
		}
	}
	accept := nftables.ChainPolicyAccept
	return &Guard{
		conn:  conn,
		table: t,
		set4:  set(1, set4Name, nftables.TypeIPAddr),
		set6:  set(2, set6Name, nftables.TypeIP6Addr),
		chain: &nftables.Chain{
			Name:     chainName,
			Table:    t,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  nftables.ChainHookOutput, // the resets are locally generated
			Priority: nftables.ChainPriorityFilter,
			Policy:   &accept,
		},
	}
}

// resetRule returns the expressions of
//
//	meta nfproto F meta l4proto tcp tcp flags & rst != 0 F saddr . tcp sport @set counter drop
//
// as nft 1.0 compiles them. The address goes to the first registers and
// the port to the 32-bit register right after it, so the registers hold
// exactly the set's key (see setKey).
func resetRule(f family, set *nftables.Set) []expr.Any {
	portReg := unix.NFT_REG32_00 + f.addrLen/4
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: unix.NFT_REG_1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{f.nfproto}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: unix.NFT_REG_1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseTransportHeader, Offset: tcpFlagsOff, Len: 1},
		&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 1, Mask: []byte{tcpRST}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: unix.NFT_REG_1, Data: []byte{0}},
		&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseNetworkHeader, Offset: f.addrOff, Len: f.addrLen},
		&expr.Payload{DestRegister: portReg, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2}, // source port
		&expr.Lookup{SourceRegister: unix.NFT_REG_1, SetName: set.Name, SetID: set.ID},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// elements returns keys as set elements expiring after d, in chunks of at
// most maxElemsPerMsg.
func elements(keys [][]byte, d time.Duration) [][]nftables.SetElement {
	var out [][]nftables.SetElement
	for chunk := range slices.Chunk(keys, maxElemsPerMsg) {
		elems := make([]nftables.SetElement, len(chunk))
		for i, k := range chunk {
			elems[i] = nftables.SetElement{Key: k, Timeout: d}
		}
		out = append(out, elems)
	}
	return out
}

// sumCounters adds up the counters of the guard's rules: the resets
// dropped. It wants one counter per rule, two in all, so that a chain
// someone else changed reads as an error rather than as a wrong number.
func sumCounters(rules []*nftables.Rule) (uint64, error) {
	var sum uint64
	n := 0
	for _, r := range rules {
		for _, e := range r.Exprs {
			if c, ok := e.(*expr.Counter); ok {
				sum += c.Packets
				n++
			}
		}
	}
	if n != 2 {
		return 0, fmt.Errorf("%d counters in %d rules, want 2", n, len(rules))
	}
	return sum, nil
}

// Open creates the table name of family inet in the calling thread's
// network namespace, replacing one that a crashed run left behind. The
// netlink socket it opens lasts until Close and stays in that namespace,
// so later calls act there whatever thread makes them.
func Open(name string) (*Guard, error) {
	if name == "" {
		return nil, errors.New("rstguard: open: empty table name")
	}
	conn, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("rstguard: open netlink for table inet %s: %w", name, err)
	}
	g := newGuard(conn, name)
	if err := g.create(); err != nil {
		g.conn.DelTable(g.table) // leave nothing half built; may fail, as create did
		_ = g.conn.Flush()
		_ = g.conn.CloseLasting()
		return nil, err
	}
	return g, nil
}

// create builds the table one named step at a time, so that an error
// says which object the kernel refused (a missing module shows up as
// ENOENT on the set or the rule that needs it). A partial table changes
// no traffic: the chain accepts by default and the sets start empty.
func (g *Guard) create() error {
	c, t := g.conn, g.table
	where := func(obj string) string { return t.Name + "/" + obj }
	steps := []struct {
		what  string
		queue func() error
	}{
		// Adding first makes the delete succeed whether or not the table
		// exists; the two go in one batch.
		{"delete stale table inet " + t.Name, func() error { c.AddTable(t); c.DelTable(t); return nil }},
		{"add table inet " + t.Name, func() error { c.AddTable(t); return nil }},
		{"add set " + where(g.set4.Name), func() error { return c.AddSet(g.set4, nil) }},
		{"add set " + where(g.set6.Name), func() error { return c.AddSet(g.set6, nil) }},
		{"add chain " + where(g.chain.Name), func() error { c.AddChain(g.chain); return nil }},
		{"add rule " + where(g.chain.Name) + " for " + where(g.set4.Name), func() error {
			c.AddRule(&nftables.Rule{Table: t, Chain: g.chain, Exprs: resetRule(ipv4, g.set4)})
			return nil
		}},
		{"add rule " + where(g.chain.Name) + " for " + where(g.set6.Name), func() error {
			c.AddRule(&nftables.Rule{Table: t, Chain: g.chain, Exprs: resetRule(ipv6, g.set6)})
			return nil
		}},
	}
	for _, s := range steps {
		err := s.queue()
		if err == nil {
			err = c.Flush()
		}
		if err != nil {
			return fmt.Errorf("rstguard: %s: %w", s.what, err)
		}
	}
	return nil
}

// Hold replaces the held endpoints with eps (TCP ports; IPv4, IPv6 or
// IPv4-mapped), each expiring in the kernel after d, in one batch: the
// kernel applies all of it or none. Hold(nil, 0) releases everything. d
// is counted in whole milliseconds and must be at least one.
func (g *Guard) Hold(eps []netip.AddrPort, d time.Duration) error {
	fail := func(err error) error {
		return fmt.Errorf("rstguard: hold in table inet %s: %w", g.table.Name, err)
	}
	v4, v6, err := splitKeys(eps)
	if err == nil {
		err = checkWindow(len(eps), d)
	}
	if err != nil {
		return fail(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return fail(errClosed)
	}
	// Flush the sets first rather than adding over them: re-adding an
	// element that exists keeps its old expiry (Linux 6.1; 6.18 too, if
	// the timeout is the same), so a second takeover would not get a
	// fresh window.
	g.conn.FlushSet(g.set4)
	g.conn.FlushSet(g.set6)
	for _, s := range []struct {
		set  *nftables.Set
		keys [][]byte
	}{{g.set4, v4}, {g.set6, v6}} {
		for _, elems := range elements(s.keys, d) {
			// On error the flushes stay queued and go out with the next
			// batch, which starts with flushes (Hold) or deletes the
			// table (Close): harmless either way.
			if err := g.conn.SetAddElements(s.set, elems); err != nil {
				return fail(fmt.Errorf("add elements to %s/%s: %w", g.table.Name, s.set.Name, err))
			}
		}
	}
	if err := g.conn.Flush(); err != nil {
		return fail(err)
	}
	return nil
}

// Held returns how many resets the guard has dropped since Open: the sum
// of its two rule counters, read from the kernel. A table deleted behind
// the guard's back is an error (the kernel itself answers with no rules).
func (g *Guard) Held() (uint64, error) {
	fail := func(err error) error {
		return fmt.Errorf("rstguard: read counters of %s/%s: %w", g.table.Name, g.chain.Name, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, fail(errClosed)
	}
	rules, err := g.conn.GetRules(g.table, g.chain)
	if err != nil {
		return 0, fail(err)
	}
	n, err := sumCounters(rules)
	if err != nil {
		return 0, fail(err)
	}
	return n, nil
}

// Close deletes the table, releasing every hold, and closes the netlink
// socket. A table that is already gone (nft flush ruleset) is no error:
// the outcome is the one Close is for. After Close, Hold and Held fail
// and Close does nothing.
func (g *Guard) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	// Closed even if the delete fails: after CloseLasting the library
	// would dial a new socket in the caller's namespace, not Open's.
	g.closed = true
	var errs []error
	g.conn.DelTable(g.table)
	if err := g.conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("rstguard: delete table inet %s: %w", g.table.Name, err))
	}
	if err := g.conn.CloseLasting(); err != nil {
		errs = append(errs, fmt.Errorf("rstguard: close netlink of table inet %s: %w", g.table.Name, err))
	}
	return errors.Join(errs...)
}
