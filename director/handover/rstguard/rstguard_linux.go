package rstguard

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Guard owns one nftables table of family inet, in the network namespace
// that Open ran in. It drops the resets sent from the VIP:ports given to
// Hold, and the untranslated replies forwarded from the realserver
// endpoints given to Hold. Its methods are safe for concurrent use. Two
// Guards must not share a table name in one namespace: each Open replaces
// the table and each Close deletes it.
type Guard struct {
	// mu serialises every use of conn: it is one netlink socket with one
	// stream of replies, and nftables.Conn only locks Flush, so a
	// concurrent GetRules would read Flush's acks (or the reverse).
	mu                               sync.Mutex
	conn                             *nftables.Conn
	table                            *nftables.Table
	held4, held6, replies4, replies6 *nftables.Set
	output, forward                  *nftables.Chain
	closed                           bool
}

var errClosed = errors.New("guard closed")

// family is what the rules of one address family need.
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
	tcpSYN      = 0x02
)

// ipvsOutPriority is the forward hook priority at which IPVS translates
// the replies of its NAT connections: ip_vs_out_hook's in ip_vs_ops4 and
// ip_vs_ops6 (net/netfilter/ipvs/ip_vs_core.c).
const ipvsOutPriority = 100

// replyPriority is the Guard's forward chain's: after IPVS and after the
// relay's forward chain (ipvsOutPriority + 1).
const replyPriority = ipvsOutPriority + 2

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
		conn:     conn,
		table:    t,
		held4:    set(1, held4Name, nftables.TypeIPAddr),
		held6:    set(2, held6Name, nftables.TypeIP6Addr),
		replies4: set(3, replies4Name, nftables.TypeIPAddr),
		replies6: set(4, replies6Name, nftables.TypeIP6Addr),
		output: &nftables.Chain{
			Name:     outputName,
			Table:    t,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  nftables.ChainHookOutput, // the resets are locally generated
			Priority: nftables.ChainPriorityFilter,
			Policy:   &accept,
		},
		forward: &nftables.Chain{
			Name:    forwardName,
			Table:   t,
			Type:    nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, // the replies are routed through
			// Right after ip_vs_out_hook, and nowhere else: the chain
			// must see a reply once IPVS has had its chance to translate
			// it. A reply IPVS translated carries the VIP as its source,
			// which the replies sets do not hold; one it did not (no
			// connection yet) still carries the realserver's endpoint,
			// which they hold. At priority filter (0) the chain would
			// come first and drop every reply, translated or not; at
			// 100, the priority of IPVS itself, the order would be that
			// of registration, and IPVS registers its hooks only when
			// its first service is added. One after the relay's forward
			// chain (relay_linux.go), which passes such a reply to the
			// director that knows its connection, while both are armed.
			Priority: nftables.ChainPriorityRef(replyPriority),
			Policy:   &accept,
		},
	}
}

// guardRule is one of the guard's rules: its chain, the set it looks up
// and its expressions.
type guardRule struct {
	chain *nftables.Chain
	set   *nftables.Set
	exprs []expr.Any
}

// rules returns the guard's rules in the order create adds them.
func (g *Guard) rules() []guardRule {
	return []guardRule{
		{g.output, g.held4, resetRule(ipv4, g.held4)},
		{g.output, g.held6, resetRule(ipv6, g.held6)},
		{g.forward, g.replies4, replyRule(ipv4, g.replies4)},
		{g.forward, g.replies6, replyRule(ipv6, g.replies6)},
	}
}

// resetRule returns the expressions of
//
//	meta nfproto F meta l4proto tcp tcp flags & rst != 0 F saddr . tcp sport @set counter drop
//
// as nft 1.0 compiles them.
func resetRule(f family, set *nftables.Set) []expr.Any {
	rst := []expr.Any{
		&expr.Payload{DestRegister: unix.NFT_REG_1, Base: expr.PayloadBaseTransportHeader, Offset: tcpFlagsOff, Len: 1},
		&expr.Bitwise{SourceRegister: unix.NFT_REG_1, DestRegister: unix.NFT_REG_1, Len: 1, Mask: []byte{tcpRST}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: unix.NFT_REG_1, Data: []byte{0}},
	}
	return slices.Concat(tcpOf(f), rst, dropFrom(f, set))
}

// replyRule returns the expressions of
//
//	meta nfproto F meta l4proto tcp F saddr . tcp sport @set counter drop
//
// as nft 1.0 compiles them: any segment, not only resets, since what must
// not reach the client is the untranslated SYN-ACK or data it would reset.
func replyRule(f family, set *nftables.Set) []expr.Any {
	return slices.Concat(tcpOf(f), dropFrom(f, set))
}

// tcpOf matches TCP over family f.
func tcpOf(f family) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: unix.NFT_REG_1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{f.nfproto}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: unix.NFT_REG_1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: unix.NFT_REG_1, Data: []byte{unix.IPPROTO_TCP}},
	}
}

// dropFrom counts and drops a segment whose source address and port are
// in set. The address goes to the first registers and the port to the
// 32-bit register right after it, so the registers hold exactly the
// set's key (see setKey).
func dropFrom(f family, set *nftables.Set) []expr.Any {
	portReg := unix.NFT_REG32_00 + f.addrLen/4
	return []expr.Any{
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

// sumCounters adds up the counters of the guard's rules, chain by chain:
// the resets dropped (output) and the replies dropped (forward). It wants
// one counter per rule, two per chain, four in all, so that a chain
// someone else changed reads as an error rather than as a wrong number.
func sumCounters(rules []*nftables.Rule) (resets, replies uint64, err error) {
	var sums [2]uint64
	var counters [2]int
	for _, r := range rules {
		var chain string
		if r.Chain != nil {
			chain = r.Chain.Name
		}
		i := slices.Index([]string{outputName, forwardName}, chain)
		if i < 0 {
			return 0, 0, fmt.Errorf("a rule in chain %q, want only %s and %s", chain, outputName, forwardName)
		}
		for _, e := range r.Exprs {
			if c, ok := e.(*expr.Counter); ok {
				sums[i] += c.Packets
				counters[i]++
			}
		}
	}
	if counters != [2]int{2, 2} {
		return 0, 0, fmt.Errorf("%d counters in %s and %d in %s (%d rules), want 2 in each",
			counters[0], outputName, counters[1], forwardName, len(rules))
	}
	return sums[0], sums[1], nil
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
// no traffic: the chains accept by default and the sets start empty.
func (g *Guard) create() error {
	c, t := g.conn, g.table
	where := func(obj string) string { return t.Name + "/" + obj }
	type step struct {
		what  string
		queue func() error
	}
	steps := []step{
		// Adding first makes the delete succeed whether or not the table
		// exists; the two go in one batch.
		{"delete stale table inet " + t.Name, func() error { c.AddTable(t); c.DelTable(t); return nil }},
		{"add table inet " + t.Name, func() error { c.AddTable(t); return nil }},
	}
	for _, s := range []*nftables.Set{g.held4, g.held6, g.replies4, g.replies6} {
		steps = append(steps, step{"add set " + where(s.Name), func() error { return c.AddSet(s, nil) }})
	}
	for _, ch := range []*nftables.Chain{g.output, g.forward} {
		steps = append(steps, step{"add chain " + where(ch.Name), func() error { c.AddChain(ch); return nil }})
	}
	for _, r := range g.rules() {
		steps = append(steps, step{"add rule " + where(r.chain.Name) + " for " + where(r.set.Name), func() error {
			c.AddRule(&nftables.Rule{Table: t, Chain: r.chain, Exprs: r.exprs})
			return nil
		}})
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

// Hold replaces everything held with h, each endpoint expiring in the
// kernel after d, in one batch: the kernel applies all of it or none.
// Hold(Holds{}, 0) releases everything. d is counted in whole
// milliseconds and must be at least one.
func (g *Guard) Hold(h Holds, d time.Duration) error {
	fail := func(err error) error {
		return fmt.Errorf("rstguard: hold in table inet %s: %w", g.table.Name, err)
	}
	k, err := h.keys()
	if err == nil {
		err = checkWindow(len(h.Resets)+len(h.Replies), d)
	}
	if err != nil {
		return fail(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return fail(errClosed)
	}
	sets := []struct {
		set  *nftables.Set
		keys [][]byte
	}{{g.held4, k.held4}, {g.held6, k.held6}, {g.replies4, k.replies4}, {g.replies6, k.replies6}}
	// Flush the sets first rather than adding over them: re-adding an
	// element that exists keeps its old expiry (Linux 6.1; 6.18 too, if
	// the timeout is the same), so a second takeover would not get a
	// fresh window.
	for _, s := range sets {
		g.conn.FlushSet(s.set)
	}
	for _, s := range sets {
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

// Held returns how many packets the guard has dropped since Open, resets
// and replies together (see HeldByKind).
func (g *Guard) Held() (uint64, error) {
	resets, replies, err := g.HeldByKind()
	return resets + replies, err
}

// HeldByKind returns how many resets (chain output) and untranslated
// replies (chain forward) the guard has dropped since Open: the sums of
// its rule counters, read from the kernel. A table deleted behind the
// guard's back is an error (the kernel itself answers with no rules).
func (g *Guard) HeldByKind() (resets, replies uint64, err error) {
	fail := func(where string, err error) error {
		return fmt.Errorf("rstguard: read counters of %s: %w", where, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, 0, fail("table inet "+g.table.Name, errClosed)
	}
	var rules []*nftables.Rule
	for _, ch := range []*nftables.Chain{g.output, g.forward} {
		rs, err := g.conn.GetRules(g.table, ch)
		if err != nil {
			return 0, 0, fail(g.table.Name+"/"+ch.Name, err)
		}
		rules = append(rules, rs...)
	}
	if resets, replies, err = sumCounters(rules); err != nil {
		return 0, 0, fail("table inet "+g.table.Name, err)
	}
	return resets, replies, nil
}

// Close deletes the table, releasing every hold, and closes the netlink
// socket. A table that is already gone (nft flush ruleset) is no error:
// the outcome is the one Close is for. After Close, Hold, Held and
// HeldByKind fail and Close does nothing.
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
