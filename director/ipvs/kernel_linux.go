package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/mqliang/libipvs"
	"github.com/vishvananda/netlink"

	"github.com/lvsd/lvsd/director/config"
)

// ErrNoIPVS means the kernel has no IPVS: the module is not loaded (and
// was not to be loaded) or the kernel lacks it.
var ErrNoIPVS = errors.New("IPVS is not available in this kernel (no IPVS generic netlink family): " +
	"load it with 'modprobe ip_vs' or set director.load_module: true")

// Kernel is the real IPVS table, through libipvs over generic netlink. It
// is bound to the network namespace of the thread that opened it, and is
// not safe for concurrent use: one goroutine owns it.
type Kernel struct {
	h    libipvs.IPVSHandle
	pipe *pipeline // writes many operations per round trip
	sock *nlSocket
}

// OpenKernel opens the IPVS generic netlink family. It first looks the
// family up by name, which makes the kernel load ip_vs where it is a
// module (libipvs looks it up by a dump, which does not); with loadModule
// it runs modprobe ip_vs as well. An absent IPVS is reported as ErrNoIPVS.
func OpenKernel(loadModule bool) (*Kernel, error) {
	fam, err := netlink.GenlFamilyGet(libipvs.IPVS_GENL_NAME)
	if err != nil && !loadModule {
		return nil, fmt.Errorf("%w (%v)", ErrNoIPVS, err)
	}
	h, err := libipvs.NewIPVSHandle(libipvs.IPVSHandleParams{LoadModule: loadModule})
	if err != nil {
		if strings.Contains(err.Error(), "genl family") {
			return nil, fmt.Errorf("%w (%v)", ErrNoIPVS, err)
		}
		return nil, fmt.Errorf("open ipvs: %w", err)
	}
	if fam == nil { // loaded by libipvs's modprobe
		if fam, err = netlink.GenlFamilyGet(libipvs.IPVS_GENL_NAME); err != nil {
			return nil, fmt.Errorf("%w (%v)", ErrNoIPVS, err)
		}
	}
	sock, err := openNLSocket()
	if err != nil {
		return nil, fmt.Errorf("open ipvs: %w", err)
	}
	return &Kernel{h: h, sock: sock, pipe: newPipeline(sock, fam.ID)}, nil
}

// Close closes the pipelined writer's socket. (libipvs's handle has no
// Close: its socket lives as long as the process.)
func (k *Kernel) Close() error { return k.sock.Close() }

// ApplyBatch makes ops through the pipelined writer: a window of them per
// round trip, each one's outcome mapped back from its sequence number.
func (k *Kernel) ApplyBatch(ops []Op) []error { return k.pipe.apply(ops) }

// Services reads the services of keys afresh: one dump of the services,
// then the destinations of those of keys only.
func (k *Kernel) Services(keys []ServiceKey) (Table, error) {
	want := make(map[ServiceKey]bool, len(keys))
	for _, key := range keys {
		want[key] = true
	}
	svcs, err := k.h.ListServices()
	if err != nil {
		return nil, fmt.Errorf("list ipvs services: %w", err)
	}
	t := Table{}
	for _, s := range svcs {
		key, svc := fromKernelService(s)
		if !want[key] {
			continue
		}
		if err := k.readDests(s, svc); err != nil {
			return nil, fmt.Errorf("list destinations of %v: %w", key, err)
		}
		t[key] = svc
	}
	return t, nil
}

// Table reads every service and destination and normalises them.
func (k *Kernel) Table() (Table, error) {
	svcs, err := k.h.ListServices()
	if err != nil {
		return nil, fmt.Errorf("list ipvs services: %w", err)
	}
	t := make(Table, len(svcs))
	for _, s := range svcs {
		key, svc := fromKernelService(s)
		if err := k.readDests(s, svc); err != nil {
			return nil, fmt.Errorf("list destinations of %v: %w", key, err)
		}
		t[key] = svc
	}
	return t, nil
}

// readDests fills svc's destinations with those of s in the kernel.
func (k *Kernel) readDests(s *libipvs.Service, svc Service) error {
	dests, err := k.h.ListDestinations(s)
	if err != nil {
		return err
	}
	for _, d := range dests {
		a, _ := netip.AddrFromSlice(d.Address)
		svc.Dests[netip.AddrPortFrom(a.Unmap(), d.Port)] = Dest{
			Forward: fromFwd(d.FwdMethod), Weight: int(d.Weight), Upper: d.UThresh, Lower: d.LThresh,
		}
	}
	return nil
}

// Counters reads every service's and destination's counters.
func (k *Kernel) Counters() (map[ServiceKey]Counters, error) {
	svcs, err := k.h.ListServices()
	if err != nil {
		return nil, fmt.Errorf("list ipvs services: %w", err)
	}
	out := make(map[ServiceKey]Counters, len(svcs))
	for _, s := range svcs {
		key, _ := fromKernelService(s)
		c := Counters{
			Connections: s.Stats.Connections, InPackets: s.Stats.PacketsIn, OutPackets: s.Stats.PacketsOut,
			InBytes: s.Stats.BytesIn, OutBytes: s.Stats.BytesOut, CPS: s.Stats.CPS,
		}
		dests, err := k.h.ListDestinations(s)
		if err != nil {
			return nil, fmt.Errorf("list destinations of %v: %w", key, err)
		}
		c.Dests = make([]DestCount, 0, len(dests))
		for _, d := range dests {
			a, _ := netip.AddrFromSlice(d.Address)
			c.Dests = append(c.Dests, DestCount{netip.AddrPortFrom(a.Unmap(), d.Port), DestCounters{
				Active: d.ActiveConns, Inactive: d.InactConns, Persistent: d.PersistConns, Total: d.Stats.Connections,
				InPackets: d.Stats.PacketsIn, OutPackets: d.Stats.PacketsOut, InBytes: d.Stats.BytesIn, OutBytes: d.Stats.BytesOut,
				CPS: d.Stats.CPS,
			}})
		}
		c.sortDests()
		out[key] = c
	}
	return out, nil
}

// Apply makes one netlink operation.
func (k *Kernel) Apply(op Op) error {
	s := toKernelService(op.Key, op.Service)
	d := toKernelDest(op.Addr, op.Dest)
	switch op.Kind {
	case AddService:
		return k.h.NewService(s)
	case UpdateService:
		return k.h.UpdateService(s)
	case DelService:
		return k.h.DelService(s)
	case AddDest:
		return k.h.NewDestination(s, d)
	case UpdateDest:
		return k.h.UpdateDestination(s, d)
	case DelDest:
		return k.h.DelDestination(s, d)
	}
	return fmt.Errorf("unknown operation %d", op.Kind)
}

func family(six bool) libipvs.AddressFamily {
	if six {
		return syscall.AF_INET6
	}
	return syscall.AF_INET
}

func toKernelService(k ServiceKey, s Service) *libipvs.Service {
	out := &libipvs.Service{
		AddressFamily: family(k.IPv6), FWMark: k.FWMark, Protocol: libipvs.Protocol(k.Protocol),
		SchedName: s.Scheduler, Flags: libipvs.Flags{Flags: s.Flags, Mask: ^uint32(0)}, Timeout: s.Timeout,
	}
	if k.FWMark == 0 {
		out.Address, out.Port = net.IP(k.Addr.Addr().AsSlice()), k.Addr.Port()
	}
	out.Netmask = toKernelNetmask(k.IPv6, s.Netmask)
	return out
}

// toKernelNetmask encodes the persistence granularity: the kernel reads an
// IPv4 netmask as a big-endian mask (__be32) and an IPv6 one as a prefix
// length, which it refuses outside 1..128 even for a service without
// persistence; libipvs sends the attribute in host byte order.
func toKernelNetmask(six bool, plen int) uint32 {
	if plen == 0 { // no persistence: a host mask, as ipvsadm sends
		plen = 32
		if six {
			plen = 128
		}
	}
	if six {
		return uint32(plen)
	}
	var be [4]byte
	binary.BigEndian.PutUint32(be[:], ^uint32(0)<<(32-plen))
	return binary.NativeEndian.Uint32(be[:])
}

func fromKernelNetmask(six bool, v uint32) int {
	if six {
		return int(v)
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	return bits.OnesCount32(binary.BigEndian.Uint32(b[:]))
}

func fromKernelService(s *libipvs.Service) (ServiceKey, Service) {
	six := s.AddressFamily == syscall.AF_INET6
	key := ServiceKey{FWMark: s.FWMark, IPv6: six}
	if s.FWMark == 0 {
		a, _ := netip.AddrFromSlice(s.Address)
		key.Protocol, key.Addr = uint16(s.Protocol), netip.AddrPortFrom(a.Unmap(), s.Port)
	}
	svc := Service{
		Scheduler: s.SchedName, Flags: s.Flags.Flags &^ FlagHashed, Timeout: s.Timeout,
		Dests: map[netip.AddrPort]Dest{},
	}
	if svc.Flags&FlagPersistent != 0 {
		svc.Netmask = fromKernelNetmask(six, s.Netmask)
	}
	return key, svc
}

func toKernelDest(a netip.AddrPort, d Dest) *libipvs.Destination {
	return &libipvs.Destination{
		AddressFamily: family(a.Addr().Is6()), Address: net.IP(a.Addr().AsSlice()), Port: a.Port(),
		FwdMethod: toFwd(d.Forward), Weight: uint32(d.Weight), UThresh: d.Upper, LThresh: d.Lower,
	}
}

// Forwarding methods as the kernel numbers them (IP_VS_CONN_F_*).
const (
	fwdMasq   = 0
	fwdLocal  = 1
	fwdTunnel = 2
	fwdRoute  = 3
)

func toFwd(f config.Forward) libipvs.FwdMethod {
	switch f {
	case config.DR:
		return fwdRoute
	case config.Tunnel:
		return fwdTunnel
	}
	return fwdMasq
}

func fromFwd(f libipvs.FwdMethod) config.Forward {
	switch f & libipvs.IP_VS_CONN_F_FWD_MASK {
	case fwdRoute:
		return config.DR
	case fwdTunnel:
		return config.Tunnel
	case fwdLocal:
		return "local"
	}
	return config.NAT
}
