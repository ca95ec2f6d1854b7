// Package director keeps the kernel's IPVS table equal to what the service
// files and the realservers' health want: build the wanted Table, read the
// kernel's, Diff them, apply the few operations that differ.
package ipvs

import (
	"fmt"
	"net/netip"
	"syscall"

	"github.com/lvsd/lvsd/director/config"
)

// Service flags of the kernel (include/uapi/linux/ip_vs.h).
const (
	FlagPersistent = 0x0001
	FlagHashed     = 0x0002 // set by the kernel on every listed service
	FlagOnePacket  = 0x0004
	FlagSched1     = 0x0008
	FlagSched2     = 0x0010
	FlagSched3     = 0x0020
)

// ServiceKey identifies a virtual service the way the kernel does: by
// protocol, address and port, or by firewall mark and family.
type ServiceKey struct {
	FWMark   uint32
	IPv6     bool   // the family; for address services it follows Addr
	Protocol uint16 // syscall.IPPROTO_TCP, _UDP or _SCTP; 0 for fwmark
	Addr     netip.AddrPort
}

// String renders the key as ipvsadm would name the service.
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		fam := "ipv4"
		if k.IPv6 {
			fam = "ipv6"
		}
		return fmt.Sprintf("fwmark %d (%s)", k.FWMark, fam)
	}
	return fmt.Sprintf("%s %v", protoName(k.Protocol), k.Addr)
}

// Service is a virtual service's settings and destinations as the kernel
// holds them, without counters and without the hashed flag.
type Service struct {
	Scheduler string
	Flags     uint32 // FlagPersistent, FlagSched*, FlagOnePacket
	Timeout   uint32 // persistence, seconds
	Netmask   int    // persistence granularity as a prefix length
	Dests     map[netip.AddrPort]Dest
}

// sameSettings reports whether two services need no UpdateService.
func (s Service) sameSettings(o Service) bool {
	return s.Scheduler == o.Scheduler && s.Flags == o.Flags && s.Timeout == o.Timeout &&
		(s.Flags&FlagPersistent == 0 || s.Netmask == o.Netmask)
}

// Dest is a destination (realserver) of a service.
type Dest struct {
	Forward config.Forward
	Weight  int
	Upper   uint32 // connection thresholds; 0 = none
	Lower   uint32
}

// Table is a whole IPVS table, or the part of it lvsd manages.
type Table map[ServiceKey]Service

// Protocols maps config protocol names to IP protocol numbers.
var Protocols = map[string]uint16{
	"tcp": syscall.IPPROTO_TCP, "udp": syscall.IPPROTO_UDP, "sctp": syscall.IPPROTO_SCTP,
}

func protoName(p uint16) string {
	for name, n := range Protocols {
		if n == p {
			return name
		}
	}
	return fmt.Sprintf("proto-%d", p)
}

// KeyOf returns the kernel key of a configured service.
func KeyOf(s config.Service) ServiceKey {
	if s.FWMark != 0 {
		return ServiceKey{FWMark: s.FWMark, IPv6: s.IPv6}
	}
	return ServiceKey{IPv6: s.IPv6, Protocol: Protocols[s.Protocol], Addr: s.Virtual}
}
