package connsync

import (
	"net/netip"
	"syscall"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
)

// tcpStates numbers TCP connection states as the kernel does
// (enum ip_vs_tcp_states, names from tcp_state_name_table). Only states in
// which a connection can still carry data are handed over: a TIME_WAIT or
// CLOSE entry only waits to expire.
var tcpStates = map[string]uint16{
	"ESTABLISHED": 1, "SYN_SENT": 2, "SYN_RECV": 3, "FIN_WAIT": 4,
	"CLOSE_WAIT": 7, "LAST_ACK": 8, "SYNACK": 10,
}

// templateStates are the persistence template states (IP_VS_CTPL_S_*).
var templateStates = map[string]uint16{"NONE": 0, "ASSURED": 1}

// Resolver turns connection table lines into sync records with what the
// proc file does not show: the forwarding method (from the destination's
// configuration), the firewall mark of fwmark services, and the
// persistence timeout of templates.
type Resolver struct {
	byVirtual map[svcKey]*config.Service
	byMark    map[uint32]*config.Service
	fwmarks   []*config.Service
}

type svcKey struct {
	proto uint8
	addr  netip.AddrPort
}

// NewResolver indexes the services of a configuration.
func NewResolver(services []config.Service) *Resolver {
	r := &Resolver{byVirtual: map[svcKey]*config.Service{}, byMark: map[uint32]*config.Service{}}
	for i := range services {
		s := &services[i]
		if s.FWMark != 0 {
			r.byMark[s.FWMark] = s
			r.fwmarks = append(r.fwmarks, s)
			continue
		}
		r.byVirtual[svcKey{uint8(ipvs.Protocols[s.Protocol]), s.Virtual}] = s
	}
	return r
}

// Records resolves conns; entries of services lvsd does not manage, of
// states not worth handing over, and of SCTP (whose states lvsd does not
// map) are left out.
func (r *Resolver) Records(conns []Conn) []Record {
	var out []Record
	for _, c := range conns {
		if rec, ok := r.record(c); ok {
			out = append(out, rec)
		}
	}
	return out
}

func (r *Resolver) record(c Conn) (Record, bool) {
	rec := Record{Protocol: c.Protocol, Client: c.Client, Virtual: c.Virtual, Dest: c.Dest}
	svc := r.service(c)
	if svc == nil {
		return rec, false
	}
	fwd, ok := forwardOf(svc, c.Dest)
	if !ok {
		return rec, false
	}
	rec.FWMark = svc.FWMark
	rec.Flags = fwd
	if fwd != FlagMasq {
		rec.Flags |= FlagNoOutput
	}
	switch {
	case c.Template():
		st, ok := templateStates[c.State]
		if !ok || svc.Persistence == nil {
			return rec, false
		}
		rec.Flags |= FlagTemplate | FlagInactive
		rec.State = st
		rec.Timeout = uint32(svc.Persistence.Timeout.Seconds())
	case c.Protocol == syscall.IPPROTO_TCP:
		st, ok := tcpStates[c.State]
		if !ok {
			return rec, false
		}
		rec.State = st
		if c.State != "ESTABLISHED" {
			rec.Flags |= FlagInactive
		}
	case c.Protocol == syscall.IPPROTO_UDP:
		rec.Flags |= FlagInactive // UDP entries never become active (ip_vs_proto_udp.c)
	default:
		return rec, false
	}
	return rec, true
}

// service finds the service of a connection: by protocol and virtual
// address; for a template of a fwmark service by the mark the kernel put
// in its virtual address; for a connection of a fwmark service (the proc
// file does not show marks) by the one fwmark service of its family that
// has its destination.
func (r *Resolver) service(c Conn) *config.Service {
	if s := r.byVirtual[svcKey{c.Protocol, c.Virtual}]; s != nil {
		return s
	}
	if c.Template() && c.Protocol == 0 {
		a := c.Virtual.Addr().AsSlice()
		mark := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		return r.byMark[mark]
	}
	var found *config.Service
	for _, s := range r.fwmarks {
		if s.IPv6 != (c.Dest.Addr().Is6() && !c.Dest.Addr().Is4In6()) {
			continue
		}
		if _, ok := forwardOf(s, c.Dest); ok {
			if found != nil {
				return nil // two fwmark services share the destination: unknowable
			}
			found = s
		}
	}
	return found
}

// forwardOf returns the forwarding flag of dest in svc. A fwmark service's
// realserver with port 0 keeps the client's port, so it matches any port.
func forwardOf(svc *config.Service, dest netip.AddrPort) (uint32, bool) {
	for _, real := range svc.Reals {
		if real.Addr == dest || (real.Addr.Port() == 0 && real.Addr.Addr() == dest.Addr()) {
			return forwardFlag(real.Forward), true
		}
	}
	if svc.Sorry.IsValid() && svc.Sorry.Addr() == dest.Addr() {
		return forwardFlag(svc.Forward), true
	}
	return 0, false
}

func forwardFlag(f config.Forward) uint32 {
	switch f {
	case config.DR:
		return FlagDRoute
	case config.Tunnel:
		return FlagTunnel
	}
	return FlagMasq
}
