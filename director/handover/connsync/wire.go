package connsync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Connection flags of the kernel (include/uapi/linux/ip_vs.h) that a
// backup accepts from a sync message (IP_VS_CONN_F_BACKUP_MASK).
const (
	FlagMasq     = 0x0000 // forwarding methods, IP_VS_CONN_F_FWD_MASK
	FlagTunnel   = 0x0002
	FlagDRoute   = 0x0003
	FlagNoOutput = 0x0080 // no reply packets pass the director (DR, TUN)
	FlagInactive = 0x0100 // not established: counts as an inactive connection
	FlagTemplate = 0x1000 // persistence template
)

// Record is one connection as a version 1 sync message carries it.
type Record struct {
	Protocol uint8
	Flags    uint32
	State    uint16
	Client   netip.AddrPort
	Virtual  netip.AddrPort // for fwmark templates: the mark as an address, port 0
	Dest     netip.AddrPort
	FWMark   uint32
	Timeout  uint32 // seconds; 0 lets the receiver use its timeout for State
}

// Sizes of the version 1 format (ip_vs_sync.c): an 8-byte message header,
// then connections of 36 (IPv4) or 72 (IPv6) bytes, already 32-bit aligned.
const (
	headerLen = 8
	v4Len     = 36
	v6Len     = 72
	// MaxMessage is the largest message a backup reads whole on a 1500-byte
	// link: its buffer is the MTU less the IP and UDP headers, and a longer
	// datagram is truncated and then dropped for its size field.
	MaxMessage = 1500 - 20 - 8
	typeInet6  = 1 // STYPE_F_INET6
	version1   = 1 // SYNC_PROTO_VER
	maxConns   = 255
)

// Encode packs records into version 1 sync messages for syncID, each at
// most maxLen bytes (MaxMessage when 0) and 255 connections.
//
//	header: 0 | syncid | size(be16) | count | version=1 | 0(16)
//	conn:   type | protocol | version(4 bits)=0, size(12) | flags(be32)
//	        state(be16) | cport | vport | dport | fwmark(be32) | timeout(be32)
//	        caddr | vaddr | daddr (4 or 16 bytes each)
func Encode(syncID uint8, recs []Record, maxLen int) ([][]byte, error) {
	if maxLen == 0 {
		maxLen = MaxMessage
	}
	if maxLen < headerLen+v6Len {
		return nil, fmt.Errorf("connsync: message limit %d below one IPv6 connection (%d)", maxLen, headerLen+v6Len)
	}
	var msgs [][]byte
	var cur []byte
	flush := func() {
		if cur != nil {
			binary.BigEndian.PutUint16(cur[2:], uint16(len(cur)))
			msgs = append(msgs, cur)
			cur = nil
		}
	}
	for i, r := range recs {
		six := r.Client.Addr().Is6() && !r.Client.Addr().Is4In6()
		if six != (r.Virtual.Addr().Is6() && !r.Virtual.Addr().Is4In6()) || six != (r.Dest.Addr().Is6() && !r.Dest.Addr().Is4In6()) {
			return nil, fmt.Errorf("connsync: record %d mixes address families (%v %v %v)", i, r.Client, r.Virtual, r.Dest)
		}
		n := v4Len
		if six {
			n = v6Len
		}
		if cur != nil && (len(cur)+n > maxLen || cur[4] == maxConns) {
			flush()
		}
		if cur == nil {
			cur = make([]byte, headerLen, maxLen)
			cur[1], cur[5] = syncID, version1
		}
		cur = appendRecord(cur, r, six, n)
		cur[4]++
	}
	flush()
	return msgs, nil
}

func appendRecord(b []byte, r Record, six bool, n int) []byte {
	var typ byte
	if six {
		typ = typeInet6
	}
	b = append(b, typ, r.Protocol)
	b = binary.BigEndian.AppendUint16(b, uint16(n)) // version 0 in the top 4 bits
	b = binary.BigEndian.AppendUint32(b, r.Flags)
	b = binary.BigEndian.AppendUint16(b, r.State)
	b = binary.BigEndian.AppendUint16(b, r.Client.Port())
	b = binary.BigEndian.AppendUint16(b, r.Virtual.Port())
	b = binary.BigEndian.AppendUint16(b, r.Dest.Port())
	b = binary.BigEndian.AppendUint32(b, r.FWMark)
	b = binary.BigEndian.AppendUint32(b, r.Timeout)
	for _, a := range []netip.Addr{r.Client.Addr(), r.Virtual.Addr(), r.Dest.Addr()} {
		if six {
			s := a.As16()
			b = append(b, s[:]...)
		} else {
			s := a.Unmap().As4()
			b = append(b, s[:]...)
		}
	}
	return b
}

// ErrMessage is wrapped by every error Decode returns.
var ErrMessage = errors.New("connsync: bad sync message")

// Decode reads a version 1 sync message the way the kernel's backup does
// (ip_vs_process_message): the size field must equal the datagram, the
// version must be 1, every connection must fit. Options after a
// connection's addresses are skipped. It returns the sync id and records.
func Decode(b []byte) (uint8, []Record, error) {
	if len(b) < headerLen {
		return 0, nil, fmt.Errorf("%w: %d bytes, header is %d", ErrMessage, len(b), headerLen)
	}
	if int(binary.BigEndian.Uint16(b[2:])) != len(b) {
		return 0, nil, fmt.Errorf("%w: size field %d, datagram %d", ErrMessage, binary.BigEndian.Uint16(b[2:]), len(b))
	}
	if b[0] != 0 || b[5] != version1 || b[6] != 0 || b[7] != 0 {
		return 0, nil, fmt.Errorf("%w: not version 1", ErrMessage)
	}
	var recs []Record
	p := b[headerLen:]
	for i := 0; i < int(b[4]); i++ {
		if len(p) < v4Len {
			return 0, nil, fmt.Errorf("%w: connection %d truncated", ErrMessage, i)
		}
		vs := binary.BigEndian.Uint16(p[2:])
		size := int(vs & 0x0fff)
		six := p[0]&typeInet6 != 0
		want := v4Len
		if six {
			want = v6Len
		}
		if vs>>12 != 0 || p[0]&^typeInet6 != 0 || size < want || size > len(p) {
			return 0, nil, fmt.Errorf("%w: connection %d: type %d, version %d, size %d", ErrMessage, i, p[0], vs>>12, size)
		}
		r := Record{Protocol: p[1], Flags: binary.BigEndian.Uint32(p[4:]), State: binary.BigEndian.Uint16(p[8:]),
			FWMark: binary.BigEndian.Uint32(p[16:]), Timeout: binary.BigEndian.Uint32(p[20:])}
		cport, vport, dport := binary.BigEndian.Uint16(p[10:]), binary.BigEndian.Uint16(p[12:]), binary.BigEndian.Uint16(p[14:])
		al := 4
		if six {
			al = 16
		}
		addr := func(k int) netip.Addr {
			a, _ := netip.AddrFromSlice(p[24+k*al : 24+(k+1)*al])
			return a
		}
		r.Client = netip.AddrPortFrom(addr(0), cport)
		r.Virtual = netip.AddrPortFrom(addr(1), vport)
		r.Dest = netip.AddrPortFrom(addr(2), dport)
		recs = append(recs, r)
		adv := (size + 3) &^ 3
		if adv > len(p) {
			adv = len(p)
		}
		p = p[adv:]
	}
	return b[1], recs, nil
}
