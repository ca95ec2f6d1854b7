package director

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"syscall"
)

// fakeIPVS is an in-memory kernel table that refuses what the kernel
// refuses (net/netfilter/ipvs/ip_vs_ctl.c), with the kernel's errnos, so
// that ordering and validation bugs fail here without a VM.
type fakeIPVS struct {
	t     Table
	calls []Op
}

func newFake() *fakeIPVS { return &fakeIPVS{t: Table{}} }

// kernelSchedulers are those a stock kernel ships (ip_vs_*.ko).
var kernelSchedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}

func (f *fakeIPVS) Table() (Table, error) {
	out := Table{}
	for k, s := range f.t {
		s.Dests = maps.Clone(s.Dests)
		out[k] = s
	}
	return out, nil
}

func (f *fakeIPVS) Apply(op Op) error {
	f.calls = append(f.calls, op)
	s, exists := f.t[op.Key]
	switch op.Kind {
	case AddService, UpdateService:
		return f.setService(op, s, exists)
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
	return f.applyDest(op, s)
}

func (f *fakeIPVS) setService(op Op, s Service, exists bool) error {
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
	dests := s.Dests
	if dests == nil {
		dests = map[netip.AddrPort]Dest{}
	}
	s = op.Service
	s.Dests = dests
	f.t[op.Key] = s
	return nil
}

func (f *fakeIPVS) applyDest(op Op, s Service) error {
	_, exists := s.Dests[op.Addr]
	d := op.Dest
	switch {
	case op.Kind == AddDest && exists:
		return syscall.EEXIST
	case (op.Kind == UpdateDest || op.Kind == DelDest) && !exists:
		return syscall.ENOENT
	case op.Kind == DelDest:
		delete(s.Dests, op.Addr)
		return nil
	case d.Weight < 0 || d.Lower > d.Upper:
		return syscall.ERANGE
	case op.Addr.Addr().Is6() != op.Key.IPv6 && d.Forward != "tun":
		return syscall.EAFNOSUPPORT
	case !op.Addr.Addr().IsValid():
		return syscall.EINVAL
	}
	s.Dests[op.Addr] = d
	return nil
}

func (f *fakeIPVS) String() string { return fmt.Sprint(f.t) }
