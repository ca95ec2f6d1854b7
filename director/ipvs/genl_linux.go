package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/mqliang/libipvs"
)

// The IPVS generic netlink messages that change the table, encoded and
// decoded here rather than through libipvs, whose encoders are not
// exported and which sends one message per round trip: the pipelined
// writer (pipeline_linux.go) puts many in one datagram. The layout is
// include/uapi/linux/ip_vs.h's, attribute for attribute what libipvs
// (and ipvsadm) send, so that the kernel sees the same requests.

// Generic netlink commands (enum ip_vs_cmd) and attributes.
const (
	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7

	attrService = 1 // IPVS_CMD_ATTR_SERVICE, nested
	attrDest    = 2 // IPVS_CMD_ATTR_DEST, nested

	svcAF       = 1
	svcProtocol = 2
	svcAddr     = 3
	svcPort     = 4 // big endian
	svcFWMark   = 5
	svcSched    = 6 // NUL-terminated
	svcFlags    = 7 // struct ip_vs_flags {flags, mask}
	svcTimeout  = 8
	svcNetmask  = 9

	destAddr    = 1
	destPort    = 2 // big endian
	destFwd     = 3
	destWeight  = 4
	destUThresh = 5
	destLThresh = 6
	destFamily  = 11 // IPVS_DEST_ATTR_ADDR_FAMILY

	genlVersion = libipvs.IPVS_GENL_VERSION
	nlaNested   = 0x8000 // NLA_F_NESTED
	nlHdrLen    = 16     // struct nlmsghdr
	genlHdrLen  = 4      // struct genlmsghdr
)

var cmdOf = [...]uint8{
	AddService: cmdNewService, UpdateService: cmdSetService, DelService: cmdDelService,
	AddDest: cmdNewDest, UpdateDest: cmdSetDest, DelDest: cmdDelDest,
}

// errBadOp is an operation the kernel would refuse that cannot even be
// encoded (a service address of the other family, an invalid address).
var errBadOp = fmt.Errorf("ipvs operation: %w", syscall.EINVAL)

// appendOp appends op as one netlink message of the IPVS family with the
// given sequence number and flags.
func appendOp(b []byte, family uint16, seq uint32, flags uint16, op Op) ([]byte, error) {
	if int(op.Kind) >= len(cmdOf) {
		return b, fmt.Errorf("unknown operation %d", op.Kind)
	}
	if op.Key.FWMark == 0 && (!op.Key.Addr.Addr().IsValid() || op.Key.Addr.Addr().Is6() != op.Key.IPv6) {
		return b, errBadOp
	}
	dest := op.Kind == AddDest || op.Kind == UpdateDest || op.Kind == DelDest
	if dest && !op.Addr.Addr().IsValid() {
		return b, errBadOp
	}
	start := len(b)
	b = binary.NativeEndian.AppendUint32(b, 0) // length, set below
	b = binary.NativeEndian.AppendUint16(b, family)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // port id: the kernel
	b = append(b, cmdOf[op.Kind], genlVersion, 0, 0)
	full := op.Kind == AddService || op.Kind == UpdateService
	b = nest(b, attrService, func(b []byte) []byte { return appendService(b, op.Key, op.Service, full) })
	if dest {
		b = nest(b, attrDest, func(b []byte) []byte { return appendDest(b, op.Addr, op.Dest, op.Kind != DelDest) })
	}
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b, nil
}

// appendService encodes the service's identity and, when full, its
// settings, as libipvs's Service.attrs does.
func appendService(b []byte, k ServiceKey, s Service, full bool) []byte {
	b = attrU16(b, svcAF, uint16(family(k.IPv6)))
	if k.FWMark != 0 {
		b = attrU32(b, svcFWMark, k.FWMark)
	} else {
		b = attrU16(b, svcProtocol, k.Protocol)
		b = attr(b, svcAddr, k.Addr.Addr().AsSlice())
		b = attr(b, svcPort, binary.BigEndian.AppendUint16(nil, k.Addr.Port()))
	}
	if !full {
		return b
	}
	b = attr(b, svcSched, append([]byte(s.Scheduler), 0))
	var flags [8]byte
	binary.NativeEndian.PutUint32(flags[:4], s.Flags)
	binary.NativeEndian.PutUint32(flags[4:], ^uint32(0)) // mask: set every flag as given
	b = attr(b, svcFlags, flags[:])
	b = attrU32(b, svcTimeout, s.Timeout)
	return attrU32(b, svcNetmask, toKernelNetmask(k.IPv6, s.Netmask))
}

// appendDest encodes a destination's identity and, when full, its
// settings, as libipvs's Destination.attrs does.
func appendDest(b []byte, a netip.AddrPort, d Dest, full bool) []byte {
	b = attrU16(b, destFamily, uint16(family(a.Addr().Is6())))
	b = attr(b, destAddr, a.Addr().AsSlice())
	b = attr(b, destPort, binary.BigEndian.AppendUint16(nil, a.Port()))
	if !full {
		return b
	}
	b = attrU32(b, destFwd, uint32(toFwd(d.Forward)))
	b = attrU32(b, destWeight, uint32(d.Weight)) // negative: the kernel's ERANGE
	b = attrU32(b, destUThresh, d.Upper)
	return attrU32(b, destLThresh, d.Lower)
}

// attr appends one netlink attribute, padded to 4 bytes.
func attr(b []byte, typ uint16, v []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	return append(b, make([]byte, (4-len(v)%4)%4)...)
}

func attrU16(b []byte, typ, v uint16) []byte {
	return attr(b, typ, binary.NativeEndian.AppendUint16(nil, v))
}

func attrU32(b []byte, typ uint16, v uint32) []byte {
	return attr(b, typ, binary.NativeEndian.AppendUint32(nil, v))
}

// nest appends a nested attribute whose contents fill writes.
func nest(b []byte, typ uint16, fill func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = fill(b)
	binary.NativeEndian.PutUint16(b[start:], uint16(len(b)-start))
	binary.NativeEndian.PutUint16(b[start+2:], typ|nlaNested)
	return b
}

// msgHeader is the part of a netlink message header the writer matches on.
type msgHeader struct {
	Len   uint32
	Type  uint16
	Flags uint16
	Seq   uint32
}

// errMalformed is a message that does not parse.
var errMalformed = errors.New("malformed netlink message")

// splitMessages cuts a datagram into netlink messages, headers included.
func splitMessages(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < nlHdrLen {
			return out, errMalformed
		}
		n := int(binary.NativeEndian.Uint32(b))
		if n < nlHdrLen || n > len(b) {
			return out, errMalformed
		}
		out = append(out, b[:n])
		b = b[min(len(b), (n+3)&^3):]
	}
	return out, nil
}

func parseHeader(m []byte) msgHeader {
	return msgHeader{Len: binary.NativeEndian.Uint32(m), Type: binary.NativeEndian.Uint16(m[4:]),
		Flags: binary.NativeEndian.Uint16(m[6:]), Seq: binary.NativeEndian.Uint32(m[8:])}
}

// attrs walks the attributes in b, calling fn for each with its type
// (flags cleared) and value.
func attrs(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return errMalformed
		}
		n := int(binary.NativeEndian.Uint16(b))
		if n < 4 || n > len(b) {
			return errMalformed
		}
		if err := fn(binary.NativeEndian.Uint16(b[2:])&^0xc000, b[4:n]); err != nil {
			return err
		}
		b = b[min(len(b), (n+3)&^3):]
	}
	return nil
}
