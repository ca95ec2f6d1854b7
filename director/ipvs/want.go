package ipvs

import (
	"net/netip"

	"github.com/lvsd/lvsd/director/config"
)

// RealState is what the health checks and the operator say of a realserver.
type RealState struct {
	Up      bool // the health check's verdict
	Drained bool // `lvsd drain`: keep it, but send it no new connections
}

// StateFunc reports the state of one realserver of a named service.
type StateFunc func(service string, real netip.AddrPort) RealState

// AllUp is the state before any health check has spoken.
func AllUp(string, netip.AddrPort) RealState { return RealState{Up: true} }

// schedFlags maps config scheduler flags to kernel service flags; the sh
// and mh flags share the kernel's generic scheduler flag bits.
var schedFlags = map[string]uint32{
	"sh-fallback": FlagSched1, "sh-port": FlagSched2,
	"mh-fallback": FlagSched1, "mh-port": FlagSched2,
	"flag-1": FlagSched1, "flag-2": FlagSched2, "flag-3": FlagSched3,
}

// Want builds the table the kernel should hold for these services.
//   - A realserver that is down is removed, or kept at weight 0 when the
//     service is quiescent (its connections drain instead of breaking).
//   - A drained realserver is kept at weight 0.
//   - When no realserver can take a new connection the sorry server is put
//     in; it leaves as soon as one can.
func Want(services []config.Service, state StateFunc) Table {
	t := make(Table, len(services))
	for _, s := range services {
		svc := Service{Scheduler: s.Scheduler, Dests: map[netip.AddrPort]Dest{}}
		for _, f := range s.SchedulerFlags {
			svc.Flags |= schedFlags[f]
		}
		if p := s.Persistence; p != nil {
			svc.Flags |= FlagPersistent
			svc.Timeout = uint32(p.Timeout.Seconds())
			svc.Netmask = p.Netmask
		}
		usable := false
		for _, r := range s.Reals {
			st := state(s.Name, r.Addr)
			d := Dest{Forward: r.Forward, Weight: r.Weight, Upper: uint32(r.UpperThreshold), Lower: uint32(r.LowerThreshold)}
			switch {
			case !st.Up && !s.Quiescent:
				continue
			case !st.Up || st.Drained:
				d.Weight = 0
			}
			usable = usable || d.Weight > 0
			svc.Dests[r.Addr] = d
		}
		if !usable && s.Sorry.IsValid() {
			svc.Dests[s.Sorry] = Dest{Forward: s.Forward, Weight: 1}
		}
		t[KeyOf(s)] = svc
	}
	return t
}
