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
	tables    int // calls to Table
	reads     int // calls to Services
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
		return nil
	}
	if !exists {
		return syscall.ESRCH // no such service
	}
	return f.applyDest(op, cs)
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

// Counters reports zero for every service and destination: no packet
// passes through an in-memory table, and a lab (--ipvs=memory) exports
// the same families as a kernel does.
func (f *Memory) Counters() (map[ServiceKey]Counters, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[ServiceKey]Counters, len(f.t))
	for k, cs := range f.t {
		c := Counters{Dests: make(map[netip.AddrPort]DestCounters, len(cs.dests))}
		for _, d := range cs.dests {
			c.Dests[d.addr] = DestCounters{}
		}
		out[k] = c
	}
	return out, nil
}
