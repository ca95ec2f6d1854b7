package ipvs

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// OpKind is a kind of IPVS operation; the order of the constants is the
// order in which Diff's operations are applied.
type OpKind int

// Operation kinds, in apply order. New services and destinations come
// first and removals last, so a service being changed never passes
// through a moment with no destination.
const (
	AddService OpKind = iota
	UpdateService
	AddDest
	UpdateDest
	DelDest
	DelService
)

var opNames = [...]string{"add-service", "update-service", "add-dest", "update-dest", "del-dest", "del-service"}

func (k OpKind) String() string { return opNames[k] }

// Op is one IPVS netlink operation.
type Op struct {
	Kind    OpKind
	Key     ServiceKey
	Service Service        // settings, for AddService and UpdateService (Dests unused)
	Addr    netip.AddrPort // the destination, for *Dest
	Dest    Dest
}

// String renders the operation in ipvsadm's words, for logs and `lvsd diff`.
func (o Op) String() string {
	switch o.Kind {
	case AddService, UpdateService:
		s := fmt.Sprintf("%s %v scheduler %s", o.Kind, o.Key, o.Service.Scheduler)
		if o.Service.Flags&FlagPersistent != 0 {
			s += fmt.Sprintf(" persistent %ds/%d", o.Service.Timeout, o.Service.Netmask)
		}
		return s
	case AddDest, UpdateDest:
		return fmt.Sprintf("%s %v -> %v %s weight %d", o.Kind, o.Key, o.Addr, o.Dest.Forward, o.Dest.Weight)
	case DelDest:
		return fmt.Sprintf("%s %v -> %v", o.Kind, o.Key, o.Addr)
	}
	return fmt.Sprintf("%s %v", o.Kind, o.Key)
}

// Diff returns the fewest operations that turn have into want. Services in
// have that are not wanted are deleted only if owned says lvsd made them:
// services that others put in the kernel are left alone. A wanted service
// already in the kernel is adopted as it is, changed only where it differs.
//
// It counts the operations before it lists them, into a slice of exactly
// that size: a first reconcile of 10,000 services makes 110,000 (17 MB),
// and a slice grown by appending would take up to twice that, in copies.
func Diff(want, have Table, owned func(ServiceKey) bool) []Op {
	n := 0
	eachOp(want, have, owned, func(Op) { n++ })
	if n == 0 {
		return nil
	}
	ops := make([]Op, 0, n)
	eachOp(want, have, owned, func(op Op) { ops = append(ops, op) })
	sortOps(ops)
	return ops
}

// eachOp calls emit with each operation of Diff, in no order.
func eachOp(want, have Table, owned func(ServiceKey) bool, emit func(Op)) {
	for k, w := range want {
		h, ok := have[k]
		// The operation carries the settings only: its own Dests would
		// keep the whole wanted table alive for as long as the operation
		// (the last Result, an adapter's log), and the destinations are
		// operations of their own.
		settings := w
		settings.Dests = nil
		if !ok {
			emit(Op{Kind: AddService, Key: k, Service: settings})
		} else if !w.sameSettings(h) {
			emit(Op{Kind: UpdateService, Key: k, Service: settings})
		}
		eachDestOp(k, w.Dests, h.Dests, emit)
	}
	for k := range have {
		if _, ok := want[k]; !ok && owned(k) {
			emit(Op{Kind: DelService, Key: k}) // the kernel drops its dests
		}
	}
}

// eachDestOp calls emit with each operation that turns the destinations
// have of service k into want.
func eachDestOp(k ServiceKey, want, have map[netip.AddrPort]Dest, emit func(Op)) {
	for a, w := range want {
		h, ok := have[a]
		switch {
		case !ok:
			emit(Op{Kind: AddDest, Key: k, Addr: a, Dest: w})
		case h != w:
			emit(Op{Kind: UpdateDest, Key: k, Addr: a, Dest: w})
		}
	}
	for a := range have {
		if _, ok := want[a]; !ok {
			emit(Op{Kind: DelDest, Key: k, Addr: a})
		}
	}
}

// sortOps orders by kind (the apply order), then by service and address,
// so that the result is deterministic for tests and for `lvsd diff`.
func sortOps(ops []Op) {
	slices.SortFunc(ops, func(a, b Op) int {
		return cmp.Or(
			cmp.Compare(a.Kind, b.Kind),
			compareKeys(a.Key, b.Key),
			a.Addr.Compare(b.Addr),
		)
	})
}

func compareKeys(a, b ServiceKey) int {
	return cmp.Or(
		cmp.Compare(a.FWMark, b.FWMark),
		cmp.Compare(boolInt(a.IPv6), boolInt(b.IPv6)),
		cmp.Compare(a.Protocol, b.Protocol),
		a.Addr.Compare(b.Addr),
	)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
