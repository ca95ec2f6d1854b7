package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"syscall"
	"testing"

	"github.com/mqliang/libipvs"

	"github.com/lvsd/lvsd/director/config"
)

// decodeOp reads back one message that appendOp wrote, as the kernel
// would (ip_vs_genl_parse_service, ip_vs_genl_parse_dest): the fake
// socket applies what it decodes to a Memory table.
func decodeOp(m []byte) (msgHeader, Op, error) {
	var op Op
	if len(m) < nlHdrLen+genlHdrLen {
		return msgHeader{}, op, errMalformed
	}
	h := parseHeader(m)
	if int(h.Len) != len(m) {
		return h, op, errMalformed
	}
	kind := -1
	for k, c := range cmdOf {
		if c == m[nlHdrLen] {
			kind = k
		}
	}
	if kind < 0 {
		return h, op, fmt.Errorf("command %d: %w", m[nlHdrLen], errMalformed)
	}
	op.Kind = OpKind(kind)
	var haveSvc, haveDest bool
	err := attrs(m[nlHdrLen+genlHdrLen:], func(typ uint16, v []byte) error {
		switch typ {
		case attrService:
			haveSvc = true
			return decodeService(v, &op)
		case attrDest:
			haveDest = true
			return decodeDest(v, &op)
		}
		return nil
	})
	switch {
	case err != nil:
		return h, op, err
	case !haveSvc, haveDest != (op.Kind == AddDest || op.Kind == UpdateDest || op.Kind == DelDest):
		return h, op, fmt.Errorf("attributes of %v: %w", op.Kind, errMalformed)
	}
	// Settings the kernel does not read for this command (its parse
	// without full_entry).
	if op.Kind != AddService && op.Kind != UpdateService {
		op.Service = Service{}
	}
	if op.Kind == DelDest {
		op.Dest = Dest{}
	}
	return h, op, nil
}

func decodeService(b []byte, op *Op) error {
	var addr []byte
	var port uint16
	var netmask uint32
	err := attrs(b, func(typ uint16, v []byte) error {
		switch {
		case typ == svcAF && len(v) == 2:
			op.Key.IPv6 = binary.NativeEndian.Uint16(v) == syscall.AF_INET6
		case typ == svcProtocol && len(v) == 2:
			op.Key.Protocol = binary.NativeEndian.Uint16(v)
		case typ == svcAddr:
			addr = v
		case typ == svcPort && len(v) == 2:
			port = binary.BigEndian.Uint16(v)
		case typ == svcFWMark && len(v) == 4:
			op.Key.FWMark = binary.NativeEndian.Uint32(v)
		case typ == svcSched && len(v) > 0 && v[len(v)-1] == 0:
			op.Service.Scheduler = string(v[:len(v)-1])
		case typ == svcFlags && len(v) == 8:
			op.Service.Flags = binary.NativeEndian.Uint32(v) & binary.NativeEndian.Uint32(v[4:])
		case typ == svcTimeout && len(v) == 4:
			op.Service.Timeout = binary.NativeEndian.Uint32(v)
		case typ == svcNetmask && len(v) == 4:
			netmask = binary.NativeEndian.Uint32(v)
		default:
			return fmt.Errorf("service attribute %d of %d bytes: %w", typ, len(v), errMalformed)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if op.Service.Flags&FlagPersistent != 0 {
		op.Service.Netmask = fromKernelNetmask(op.Key.IPv6, netmask)
	}
	if op.Key.FWMark != 0 { // the kernel reads no protocol or address then
		op.Key.Protocol, op.Key.Addr = 0, netip.AddrPort{}
	} else {
		a, ok := netip.AddrFromSlice(addr)
		if !ok {
			return fmt.Errorf("service address %x: %w", addr, errMalformed)
		}
		op.Key.Addr = netip.AddrPortFrom(a, port)
	}
	return nil
}

func decodeDest(b []byte, op *Op) error {
	var addr []byte
	var port uint16
	op.Dest.Forward = fromFwd(0) // without the attribute the kernel reads 0: masquerading
	return errors.Join(attrs(b, func(typ uint16, v []byte) error {
		switch {
		case typ == destFamily && len(v) == 2:
		case typ == destAddr:
			addr = v
		case typ == destPort && len(v) == 2:
			port = binary.BigEndian.Uint16(v)
		case typ == destFwd && len(v) == 4:
			op.Dest.Forward = fromFwd(libipvs.FwdMethod(binary.NativeEndian.Uint32(v)))
		case typ == destWeight && len(v) == 4:
			op.Dest.Weight = int(int32(binary.NativeEndian.Uint32(v)))
		case typ == destUThresh && len(v) == 4:
			op.Dest.Upper = binary.NativeEndian.Uint32(v)
		case typ == destLThresh && len(v) == 4:
			op.Dest.Lower = binary.NativeEndian.Uint32(v)
		default:
			return fmt.Errorf("destination attribute %d of %d bytes: %w", typ, len(v), errMalformed)
		}
		return nil
	}), func() error {
		a, ok := netip.AddrFromSlice(addr)
		if !ok {
			return fmt.Errorf("destination address %x: %w", addr, errMalformed)
		}
		op.Addr = netip.AddrPortFrom(a, port)
		return nil
	}())
}

var (
	keyV4   = ServiceKey{Protocol: syscall.IPPROTO_TCP, Addr: netip.MustParseAddrPort("192.0.2.10:80")}
	keyV6   = ServiceKey{IPv6: true, Protocol: syscall.IPPROTO_UDP, Addr: netip.MustParseAddrPort("[2001:db8::10]:53")}
	keyMark = ServiceKey{FWMark: 7}
	realV4  = netip.MustParseAddrPort("198.51.100.11:8080")
	realV6  = netip.MustParseAddrPort("[2001:db8:1::11]:53")
)

// codecOps is one of every kind of operation, over every kind of key.
func codecOps() []Op {
	persistent := Service{Scheduler: "sh", Flags: FlagPersistent | FlagSched1, Timeout: 300, Netmask: 24}
	return []Op{
		{Kind: AddService, Key: keyV4, Service: Service{Scheduler: "wlc"}},
		{Kind: AddService, Key: keyV4, Service: persistent},
		{Kind: UpdateService, Key: keyV6, Service: Service{Scheduler: "rr", Flags: FlagPersistent, Timeout: 60, Netmask: 64}},
		{Kind: AddService, Key: keyMark, Service: Service{Scheduler: "mh", Flags: FlagOnePacket}},
		{Kind: DelService, Key: keyV6},
		{Kind: DelService, Key: keyMark},
		{Kind: AddDest, Key: keyV4, Addr: realV4, Dest: Dest{Forward: config.NAT, Weight: 5, Upper: 100, Lower: 10}},
		{Kind: UpdateDest, Key: keyV6, Addr: realV6, Dest: Dest{Forward: config.DR, Weight: 0}},
		{Kind: AddDest, Key: keyMark, Addr: realV6, Dest: Dest{Forward: config.Tunnel, Weight: 1}},
		{Kind: AddDest, Key: keyV4, Addr: realV4, Dest: Dest{Forward: config.NAT, Weight: -1}},
		{Kind: DelDest, Key: keyV4, Addr: realV4},
	}
}

// TestCodecRoundTrip: every operation decodes, as the kernel parses it,
// to itself (the settings a delete does not send aside).
func TestCodecRoundTrip(t *testing.T) {
	for i, op := range codecOps() {
		b, err := appendOp(nil, 42, uint32(100+i), nlmFRequest|nlmFAck, op)
		if err != nil {
			t.Fatalf("%v: %v", op, err)
		}
		if len(b)%4 != 0 {
			t.Errorf("%v: %d bytes, not aligned", op, len(b))
		}
		h, got, err := decodeOp(b)
		if err != nil {
			t.Fatalf("%v: decode: %v", op, err)
		}
		if h.Type != 42 || h.Seq != uint32(100+i) || h.Flags != nlmFRequest|nlmFAck {
			t.Errorf("%v: header %+v", op, h)
		}
		want := op
		if op.Kind != AddService && op.Kind != UpdateService {
			want.Service = Service{}
		}
		if op.Kind == DelDest {
			want.Dest = Dest{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
}

// TestCodecRefusesUnencodable: operations the kernel cannot be asked for
// are refused before sending, with the kernel's EINVAL.
func TestCodecRefusesUnencodable(t *testing.T) {
	for _, op := range []Op{
		{Kind: AddService, Key: ServiceKey{IPv6: true, Protocol: syscall.IPPROTO_TCP, Addr: realV4}},
		{Kind: AddService, Key: ServiceKey{Protocol: syscall.IPPROTO_TCP}},
		{Kind: AddDest, Key: keyV4},
	} {
		if _, err := appendOp(nil, 42, 1, nlmFRequest, op); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("%+v: %v, want EINVAL", op, err)
		}
	}
}

// FuzzDecodeOp: no input panics the decoder or the message splitter, and
// whatever decodes encodes back to the same operation.
func FuzzDecodeOp(f *testing.F) {
	for i, op := range codecOps() {
		b, _ := appendOp(nil, 42, uint32(i), nlmFRequest, op)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(make([]byte, nlHdrLen+genlHdrLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, _ := splitMessages(b)
		for _, m := range msgs {
			parseHeader(m)
		}
		h, op, err := decodeOp(b)
		if err != nil {
			return
		}
		again, err := appendOp(nil, h.Type, h.Seq, h.Flags, op)
		if err != nil || op.Dest.Forward == "local" || (op.Service.Flags&FlagPersistent != 0 && op.Service.Netmask == 0) {
			// Decoded but not encodable (a family mismatch: refused before
			// sending), local forwarding, which is the kernel's own (a
			// realserver on the director) and never asked for by lvsd, or
			// a persistence netmask of 0, which lvsd sends as a host mask.
			return
		}
		if _, op2, err := decodeOp(again); err != nil || !reflect.DeepEqual(op, op2) {
			t.Fatalf("%+v re-encoded decodes to %+v (%v)", op, op2, err)
		}
	})
}
