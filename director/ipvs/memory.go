package ipvs

import (
	"net/netip"
	"slices"
	"sync"
	"syscall"
)

// Memory is an IPVS table held in memory that refuses what the kernel
// refuses (net/netfilter/ipvs/ip_vs_ctl.c), with the kernel's errnos. It
// backs `lvsd run --dry-run`, and in tests it makes ordering and
// validation bugs fail without a VM. It is safe for concurrent use.
type Memory struct {
	mu        sync.Mutex
	t         cached // compact, as the Reconciler's copy: a lab's table holds 100,000 destinations
	recording bool   // since ResetCalls: calls lists the operations
	calls     []Op
	tables    int                                            // calls to Table
	reads     int                                            // calls to Services
	stats     map[ServiceKey]map[netip.AddrPort]DestCounters // Traffic's; nil until it runs
}

// NewMemory returns an empty in-memory table.
func NewMemory() *Memory { return &Memory{t: cached{}} }

// kernelSchedulers are those a stock Linux 6.1 ships (ip_vs_*.ko).
var kernelSchedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}

// Table returns a copy of the table.
func (f *Memory) Table() (Table, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tables++
	return f.t.table(), nil
}

// Apply makes one operation, or refuses it as the kernel would.
func (f *Memory) Apply(op Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recording {
		f.calls = append(f.calls, op)
	}
	cs, exists := f.t[op.Key]
	switch op.Kind {
	case AddService, UpdateService:
		return f.setService(op, exists)
	case DelService:
		if !exists {
			return syscall.ESRCH
		}
		delete(f.t, op.Key)
		delete(f.stats, op.Key) // a service made again starts from 0, as in the kernel
		return nil
	}
	if !exists {
		return syscall.ESRCH // no such service
	}
	err := f.applyDest(op, cs)
	if err == nil && op.Kind == DelDest {
		delete(f.stats[op.Key], op.Addr)
	}
	return err
}

func (f *Memory) setService(op Op, exists bool) error {
	switch {
	case op.Kind == AddService && exists:
		return syscall.EEXIST
	case op.Kind == UpdateService && !exists:
		return syscall.ESRCH
	case !slices.Contains(kernelSchedulers, op.Service.Scheduler):
		return syscall.ENOENT // scheduler not found
	case op.Key.FWMark == 0 && op.Key.Addr.Addr().Is6() != op.Key.IPv6:
		return syscall.EINVAL
	case op.Key.IPv6 && op.Service.Flags&FlagPersistent != 0 && (op.Service.Netmask < 1 || op.Service.Netmask > 128):
		return syscall.EINVAL
	}
	f.t.applyOne(op) // keeps the service's destinations
	return nil
}

func (f *Memory) applyDest(op Op, cs *cachedService) error {
	_, exists := cs.find(op.Addr)
	d := op.Dest
	switch {
	case op.Kind == AddDest && exists:
		return syscall.EEXIST
	case (op.Kind == UpdateDest || op.Kind == DelDest) && !exists:
		return syscall.ENOENT
	case op.Kind == DelDest:
	case d.Weight < 0 || d.Lower > d.Upper:
		return syscall.ERANGE
	case op.Addr.Addr().Is6() != op.Key.IPv6 && d.Forward != "tun":
		return syscall.EAFNOSUPPORT
	case !op.Addr.Addr().IsValid():
		return syscall.EINVAL
	}
	f.t.applyOne(op)
	return nil
}

// Services returns a copy of the services of keys the table holds.
func (f *Memory) Services(keys []ServiceKey) (Table, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	out := Table{}
	for _, k := range keys {
		if cs, ok := f.t[k]; ok {
			out[k] = cs.service()
		}
	}
	return out, nil
}

// Reads counts the calls to Table and Services so far: tests of the
// Reconciler's cache see what it read back.
func (f *Memory) Reads() (tables, services int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tables, f.reads
}

// Calls returns the operations applied since the last ResetCalls,
// refused ones included.
func (f *Memory) Calls() []Op {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// ResetCalls forgets the operations applied so far, and records those
// applied from now on for Calls. A table never reset records none: the
// one behind `lvsd run --ipvs=memory` lives as long as the daemon, and
// would otherwise keep every operation it ever made (110,000 at the start
// of a 10,000-service table).
func (f *Memory) ResetCalls() {
	f.mu.Lock()
	f.calls, f.recording = nil, true
	f.mu.Unlock()
}

// Edit runs fn on the table under the lock, as someone editing the kernel
// behind lvsd's back would (tests of drift repair).
func (f *Memory) Edit(fn func(Table)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.t.table()
	fn(t)
	f.t = cacheOf(t)
}

// Counters reports every service's and destination's counters: zero,
// since no packet passes through an in-memory table, unless Traffic made
// some. A lab (--ipvs=memory) exports the same families as a kernel does.
// A service's figures are its destinations' summed.
func (f *Memory) Counters() (map[ServiceKey]Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[ServiceKey]Counters, len(f.t))
	n := 0
	for _, cs := range f.t {
		n += len(cs.dests)
	}
	all := make([]DestCount, 0, n) // one allocation for every service's
	for k, cs := range f.t {
		var c Counters
		start, st := len(all), f.stats[k]
		for _, d := range cs.dests { // in address order, as Dests are
			dc := st[d.addr]
			all = append(all, DestCount{d.addr, dc})
			c.Connections += dc.Total
			c.InPackets, c.OutPackets = c.InPackets+dc.InPackets, c.OutPackets+dc.OutPackets
			c.InBytes, c.OutBytes = c.InBytes+dc.InBytes, c.OutBytes+dc.OutBytes
			c.CPS += dc.CPS
		}
		c.Dests = all[start:len(all):len(all)]
		out[k] = c
	}
	return out, nil
}

// Traffic moves every destination's counters as packets through a kernel
// would, so that labs and benchmarks see counters that change: what add
// returns for a destination is added to its connections, packets and
// bytes, and replaces its active, inactive and persistent connections and
// rate (the kernel's gauges).
func (f *Memory) Traffic(add func(k ServiceKey, a netip.AddrPort) DestCounters) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stats == nil {
		f.stats = map[ServiceKey]map[netip.AddrPort]DestCounters{}
	}
	for k, cs := range f.t {
		st := f.stats[k]
		if st == nil {
			st = make(map[netip.AddrPort]DestCounters, len(cs.dests))
			f.stats[k] = st
		}
		for _, d := range cs.dests {
			n, c := add(k, d.addr), st[d.addr]
			c.Total, c.InPackets, c.OutPackets = c.Total+n.Total, c.InPackets+n.InPackets, c.OutPackets+n.OutPackets
			c.InBytes, c.OutBytes = c.InBytes+n.InBytes, c.OutBytes+n.OutBytes
			c.Active, c.Inactive, c.Persistent, c.CPS = n.Active, n.Inactive, n.Persistent, n.CPS
			st[d.addr] = c
		}
	}
}
