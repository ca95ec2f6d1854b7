package config

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Schedulers are the IPVS schedulers of the Linux kernel (ipvsadm(8)).
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}

// schedulerFlags maps each scheduler flag to the schedulers it applies to;
// flag-1..3 are the raw forms ipvsadm accepts for any scheduler.
var schedulerFlags = map[string][]string{
	"sh-fallback": {"sh"}, "sh-port": {"sh"}, "mh-fallback": {"mh"}, "mh-port": {"mh"},
	"flag-1": nil, "flag-2": nil, "flag-3": nil,
}

// maxWeight is ipvsadm's limit for a realserver weight.
const maxWeight = 65535

func resolveService(raw rawService, p parsed) Service {
	r := p.rep
	s := Service{
		File: r.file, Line: 1, Name: raw.Name, Scheduler: orDefault(raw.Scheduler, "wlc"),
		SchedulerFlags: raw.SchedulerFlags, Forward: Forward(raw.Forward), Quiescent: raw.Quiescent,
	}
	if s.Name == "" {
		r.at("name", "required: names the service in status, metrics and lvsd drain")
	}
	resolveVirtual(&s, raw, r)
	resolveScheduler(&s, r)
	if !validForward(s.Forward) {
		r.at("forward", "%s; it says how packets reach the realservers", forwardProblem(raw.Forward))
	}
	s.Persistence = resolvePersistence(raw.Persistence, s.IPv6, r)
	// The netlink library identifies a service by protocol, address and a
	// non-zero port (it panics otherwise), so "all ports" goes through a
	// firewall mark, which is also the clearer way to say it.
	if s.Virtual.IsValid() && s.Virtual.Port() == 0 {
		r.at("virtual", "port 0 (all ports) is not supported: mark the traffic (nftables) and use fwmark")
	}
	if raw.Sorry != "" {
		s.Sorry = resolveRealAddr("sorry", raw.Sorry, s, r)
	}
	c := resolveCheck("check", defaultCheck(s), raw.Check, r)
	s.Check = &c
	s.Reals = resolveReals(raw.Reals, s, r)
	s.at = crossPosOf(s, r.pos)
	return s
}

func resolveVirtual(s *Service, raw rawService, r reporter) {
	switch {
	case raw.Virtual != "" && raw.FWMark != nil:
		r.at("fwmark", "set either virtual or fwmark, not both")
	case raw.Virtual == "" && raw.FWMark == nil:
		r.at("virtual", "required: address:port, or fwmark instead")
	case raw.FWMark != nil:
		// The kernel's mark is 32 bits; 0 is "no mark".
		if m := *raw.FWMark; m < 1 || m > math.MaxUint32 {
			r.refuse("fwmark", "%d out of range 1-%d", m, uint32(math.MaxUint32))
		} else {
			s.FWMark = uint32(m)
		}
		s.IPv6 = raw.Family == "ipv6"
		if raw.Family != "" && raw.Family != "ipv4" && raw.Family != "ipv6" {
			r.at("family", "%q is not ipv4 or ipv6", raw.Family)
		}
		if raw.Protocol != "" {
			r.at("protocol", "does not apply to fwmark services: the mark selects the packets")
		}
	default:
		ap, err := netip.ParseAddrPort(raw.Virtual)
		if err != nil || !ap.Addr().IsGlobalUnicast() {
			r.at("virtual", "%q is not address:port, e.g. 192.0.2.10:80 or [2001:db8::10]:443", raw.Virtual)
		}
		s.Virtual, s.IPv6 = ap, ap.Addr().Is6()
		if raw.Family != "" {
			r.at("family", "only for fwmark services; the virtual address gives the family")
		}
		s.Protocol = orDefault(raw.Protocol, "tcp")
		if s.Protocol != "tcp" && s.Protocol != "udp" && s.Protocol != "sctp" {
			r.at("protocol", "%q is not tcp, udp or sctp", s.Protocol)
		}
	}
}

func resolveScheduler(s *Service, r reporter) {
	if !slices.Contains(Schedulers, s.Scheduler) {
		r.at("scheduler", "%q is not a kernel scheduler (%v)", s.Scheduler, Schedulers)
	}
	for i, f := range s.SchedulerFlags {
		only, known := schedulerFlags[f]
		switch {
		case !known:
			r.at(idx("scheduler_flags", i), "%q is not a scheduler flag (sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3)", f)
		case only != nil && !slices.Contains(only, s.Scheduler):
			r.at(idx("scheduler_flags", i), "%q applies to the %s scheduler, not %s", f, only[0], s.Scheduler)
		}
	}
}

func validForward(f Forward) bool { return f == NAT || f == DR || f == Tunnel }

func forwardProblem(raw string) string {
	if raw == "" {
		return "required: nat, dr or tun"
	}
	return fmt.Sprintf("%q is not nat, dr or tun", raw)
}

func resolvePersistence(raw *rawPersistence, six bool, r reporter) *Persistence {
	if raw == nil {
		return nil
	}
	bits := 32
	if six {
		bits = 128
	}
	// 300s is ipvsadm's default for -p; the kernel counts whole seconds
	// and takes no 0 (that would be no persistence).
	p := &Persistence{Timeout: durOr(raw.Timeout, 300*time.Second), Netmask: intOr(raw.Netmask, bits)}
	if p.Timeout%time.Second != 0 || p.Timeout < time.Second || p.Timeout > 31*24*time.Hour {
		r.at("persistence.timeout", "%s out of range 1s-744h, in whole seconds", shortDur(p.Timeout))
	}
	inRange(r, "persistence.netmask", p.Netmask, 1, bits)
	return p
}

// resolveRealAddr parses a realserver address. A fwmark service may leave
// the port out (the client's destination port is kept).
func resolveRealAddr(path, s string, svc Service, r reporter) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	if err != nil && svc.FWMark != 0 {
		if a, err2 := netip.ParseAddr(s); err2 == nil {
			ap, err = netip.AddrPortFrom(a, 0), nil
		}
	}
	switch {
	case err != nil:
		r.at(path, "%q is not address:port, e.g. 198.51.100.11:8080", s)
	case !ap.Addr().IsGlobalUnicast() && !ap.Addr().IsLoopback():
		r.at(path, "%v is not a unicast address", ap.Addr())
	case ap.Addr().Is6() != svc.IPv6:
		r.at(path, "%v is not of the service's address family", ap.Addr())
	case ap.Port() == 0 && svc.FWMark == 0:
		r.at(path, "port 0 is only for fwmark services")
	default:
		return ap
	}
	return netip.AddrPort{}
}

func resolveReals(raws []rawReal, s Service, r reporter) []Real {
	var out []Real // nil for none, as before; else exactly as long as the list
	if len(raws) > 0 {
		out = make([]Real, 0, len(raws))
	}
	seen := map[netip.AddrPort]int{}
	for i, raw := range raws {
		rp := idx("reals", i)
		real := Real{
			Weight:         intOr(raw.Weight, 1),
			UpperThreshold: raw.UpperThreshold, LowerThreshold: raw.LowerThreshold,
			Forward: s.Forward, Check: s.Check,
		}
		if raw.Address == "" {
			r.at(rp+".address", "required: address:port of the realserver")
		} else {
			real.Addr = resolveRealAddr(rp+".address", raw.Address, s, r)
		}
		if j, dup := seen[real.Addr]; dup && real.Addr.IsValid() {
			r.at(rp+".address", "%v is already listed at line %d", real.Addr, r.pos.line(idx("reals", j)))
		}
		seen[real.Addr] = i
		inRange(r, rp+".weight", real.Weight, 0, maxWeight)
		resolveThresholds(rp, &real, r)
		if raw.Forward != "" {
			real.Forward = Forward(raw.Forward)
			if !validForward(real.Forward) {
				r.at(rp+".forward", "%s", forwardProblem(raw.Forward))
			}
		}
		checkPortRewrite(rp, s, real, r)
		if raw.Check != nil {
			c := resolveCheck(rp+".check", *s.Check, raw.Check, r)
			real.Check = &c
		}
		if real.Addr.IsValid() && real.Addr.Port() == 0 && real.Check.Port == 0 && needsPort(real.Check.Type) {
			r.at(rp+".address", "a %s check needs a port: give the real a port or set check.port", real.Check.Type)
		}
		out = append(out, real)
	}
	return out
}

func resolveThresholds(rp string, real *Real, r reporter) {
	inRange(r, rp+".upper_threshold", real.UpperThreshold, 0, maxWeight)
	inRange(r, rp+".lower_threshold", real.LowerThreshold, 0, maxWeight)
	// The kernel refuses l_threshold > u_threshold with ERANGE, even when
	// u_threshold is 0 (no limit), so a lone lower threshold is an error.
	if real.UpperThreshold == 0 && real.LowerThreshold > 0 {
		r.at(rp+".lower_threshold", "needs upper_threshold: it is where service resumes after the upper limit")
	} else if real.UpperThreshold > 0 && real.LowerThreshold >= real.UpperThreshold {
		r.at(rp+".lower_threshold", "%d must be below upper_threshold %d", real.LowerThreshold, real.UpperThreshold)
	}
}

// checkPortRewrite refuses a port change where the kernel cannot make one:
// DR and TUN forward the packet unchanged, so the realserver must listen on
// the virtual port.
func checkPortRewrite(rp string, s Service, real Real, r reporter) {
	if (real.Forward != DR && real.Forward != Tunnel) || !s.Virtual.IsValid() || !real.Addr.IsValid() {
		return
	}
	if real.Addr.Port() != s.Virtual.Port() {
		r.at(rp+".address", "port %d differs from the virtual port %d, which %s forwarding cannot change; use nat or port %s",
			real.Addr.Port(), s.Virtual.Port(), real.Forward, strconv.Itoa(int(s.Virtual.Port())))
	}
}
