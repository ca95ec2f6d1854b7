package connsync

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
)

// A table as Linux 6.1 prints it: IPv4 connections and a template, an
// IPv6 connection (%pI6: full groups), a persistence-engine column.
const procSample = `Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP C0000264 D431 C000020A 1B58 C000020B 1B58 ESTABLISHED     899
TCP C0000264 D432 C000020A 1B58 C000020C 1B58 SYN_RECV         59
TCP C0000264 D433 C000020A 1B58 C000020B 1B58 TIME_WAIT       119
TCP C0000200 0000 C000020A 0050 C000020B 0050 NONE            299
UDP C0000264 9C40 C000020A 0035 C000020B 0035 UDP             299
TCP 2001:0db8:0000:0000:0000:0000:0000:0064 D434 2001:0db8:0000:0000:0000:0000:0000:000a 01BB 2001:0db8:0000:0000:0000:0000:0000:000b 01BB ESTABLISHED     890 sip x
`

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestParseProc(t *testing.T) {
	got, err := ParseProc(strings.NewReader(procSample))
	if err != nil {
		t.Fatal(err)
	}
	want := []Conn{
		{syscall.IPPROTO_TCP, ap("192.0.2.100:54321"), ap("192.0.2.10:7000"), ap("192.0.2.11:7000"), "ESTABLISHED", 899},
		{syscall.IPPROTO_TCP, ap("192.0.2.100:54322"), ap("192.0.2.10:7000"), ap("192.0.2.12:7000"), "SYN_RECV", 59},
		{syscall.IPPROTO_TCP, ap("192.0.2.100:54323"), ap("192.0.2.10:7000"), ap("192.0.2.11:7000"), "TIME_WAIT", 119},
		{syscall.IPPROTO_TCP, ap("192.0.2.0:0"), ap("192.0.2.10:80"), ap("192.0.2.11:80"), "NONE", 299},
		{syscall.IPPROTO_UDP, ap("192.0.2.100:40000"), ap("192.0.2.10:53"), ap("192.0.2.11:53"), "UDP", 299},
		{syscall.IPPROTO_TCP, ap("[2001:db8::64]:54324"), ap("[2001:db8::a]:443"), ap("[2001:db8::b]:443"), "ESTABLISHED", 890},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseProc:\n got %+v\nwant %+v", got, want)
	}
	if !got[3].Template() || got[0].Template() {
		t.Error("the client-port-0 line is the template, and only it")
	}
}

func TestParseProcErrors(t *testing.T) {
	for _, in := range []string{
		"TCP C0000264 D431 C000020A 1B58 C000020B 1B58 ESTABLISHED\n",    // no expiry
		"TCP C00002 D431 C000020A 1B58 C000020B 1B58 ESTABLISHED 1\n",    // short address
		"TCP C0000264 XYZ C000020A 1B58 C000020B 1B58 ESTABLISHED 1\n",   // bad port
		"TCP C0000264 D431 C000020A 1B58 C000020B 1B58 ESTABLISHED -1\n", // bad expiry
		"TCP 192.0.2.1 D431 C000020A 1B58 C000020B 1B58 ESTABLISHED 1\n", // dotted v4
	} {
		if _, err := ParseProc(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ParseProc(%q) = %v, want an error naming line 1", in, err)
		}
	}
}

// TestEncodeGolden pins one IPv4 record byte for byte to the layout of
// struct ip_vs_sync_mesg and struct ip_vs_sync_v4.
func TestEncodeGolden(t *testing.T) {
	msgs, err := Encode(9, []Record{{Protocol: 6, Flags: FlagDRoute | FlagNoOutput, State: 1,
		Client: ap("192.0.2.100:54321"), Virtual: ap("192.0.2.10:7000"), Dest: ap("192.0.2.11:7000")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// header: reserved 0, syncid 9, size 44, 1 connection, version 1, spare 0;
	// then type 0 (IPv4), TCP, version 0 and size 36, flags DR|no-output,
	// state ESTABLISHED, ports, fwmark 0, timeout 0, the three addresses.
	w := mustHex(t, "00 09 002c 01 01 0000"+
		"00 06 0024 00000083 0001 d431 1b58 1b58 00000000 00000000 c0000264 c000020a c000020b")
	if len(msgs) != 1 || !bytes.Equal(msgs[0], w) {
		t.Fatalf("Encode:\n got %x\nwant %x", msgs, w)
	}
	id, recs, err := Decode(msgs[0])
	if err != nil || id != 9 || len(recs) != 1 || recs[0].Dest != ap("192.0.2.11:7000") || recs[0].Flags != 0x83 {
		t.Fatalf("Decode = %d %+v %v", id, recs, err)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeSplitsAndRoundTrips(t *testing.T) {
	var recs []Record
	for i := range 300 {
		c := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.100"), uint16(10000+i))
		if i%3 == 0 {
			c = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::64"), uint16(10000+i))
			recs = append(recs, Record{Protocol: 6, State: 3, Flags: FlagInactive, Client: c,
				Virtual: ap("[2001:db8::a]:80"), Dest: ap("[2001:db8::b]:80"), Timeout: uint32(i)})
			continue
		}
		recs = append(recs, Record{Protocol: 6, State: 1, Client: c, Virtual: ap("192.0.2.10:80"), Dest: ap("192.0.2.11:80"), FWMark: uint32(i)})
	}
	msgs, err := Encode(1, recs, 0)
	if err != nil {
		t.Fatal(err)
	}
	var back []Record
	for i, m := range msgs {
		if len(m) > MaxMessage {
			t.Errorf("message %d: %d bytes, limit %d", i, len(m), MaxMessage)
		}
		_, r, err := Decode(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		back = append(back, r...)
	}
	if !reflect.DeepEqual(back, recs) {
		t.Fatal("records changed in the round trip")
	}
	// 300 records of which 100 are IPv6 (72 bytes): at least 11 messages
	// of 1472 bytes are needed (200*36+100*72 = 14400 bytes of records).
	if len(msgs) < 10 || len(msgs) > 12 {
		t.Errorf("%d messages for 14400 bytes of records", len(msgs))
	}
	// 255 connections at most per message, even when bytes would allow more.
	many := make([]Record, 300)
	for i := range many {
		many[i] = recs[1]
	}
	msgs, err = Encode(1, many, 65000)
	if err != nil || len(msgs) != 2 || msgs[0][4] != 255 || msgs[1][4] != 45 {
		t.Fatalf("300 records in 64 KB messages: %d messages, %v", len(msgs), err)
	}
}

func TestEncodeRefusesMixedFamilies(t *testing.T) {
	_, err := Encode(1, []Record{{Client: ap("192.0.2.1:1"), Virtual: ap("[2001:db8::a]:80"), Dest: ap("192.0.2.11:80")}}, 0)
	if err == nil {
		t.Fatal("mixed families accepted")
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, _ := Encode(1, []Record{{Protocol: 6, Client: ap("192.0.2.1:1"), Virtual: ap("192.0.2.10:80"), Dest: ap("192.0.2.11:80")}}, 0)
	m := good[0]
	for name, b := range map[string][]byte{
		"short":       m[:4],
		"size":        append(append([]byte{}, m...), 0, 0, 0, 0),
		"version 0":   func() []byte { c := append([]byte{}, m...); c[5] = 0; return c }(),
		"conn size":   func() []byte { c := append([]byte{}, m...); c[11] = 200; return c }(),
		"conn verson": func() []byte { c := append([]byte{}, m...); c[10] |= 0x10; return c }(),
		"count":       func() []byte { c := append([]byte{}, m...); c[4] = 2; return c }(),
	} {
		if _, _, err := Decode(b); !errors.Is(err, ErrMessage) {
			t.Errorf("%s: Decode = %v, want ErrMessage", name, err)
		}
	}
}

func TestResolver(t *testing.T) {
	services := []config.Service{
		{Protocol: "tcp", Virtual: ap("192.0.2.10:7000"), Forward: config.DR,
			Reals: []config.Real{{Addr: ap("192.0.2.11:7000"), Forward: config.DR}, {Addr: ap("192.0.2.12:7000"), Forward: config.DR}}},
		{Protocol: "tcp", Virtual: ap("192.0.2.10:80"), Forward: config.NAT, Persistence: &config.Persistence{Timeout: 300 * time.Second},
			Reals: []config.Real{{Addr: ap("192.0.2.11:80"), Forward: config.NAT}}},
		{Protocol: "udp", Virtual: ap("192.0.2.10:53"), Forward: config.Tunnel,
			Reals: []config.Real{{Addr: ap("192.0.2.11:53"), Forward: config.Tunnel}}},
		{FWMark: 7, Forward: config.DR, Persistence: &config.Persistence{Timeout: 600 * time.Second},
			Reals: []config.Real{{Addr: ap("192.0.2.21:0"), Forward: config.DR}}},
	}
	conns, err := ParseProc(strings.NewReader(procSample + "" +
		"TCP C0000264 D440 C000020A 0050 C000020B 0050 ESTABLISHED     899\n" + // NAT, persistent
		"IP  C0000200 0000 00000007 0000 C0000215 0000 ASSURED         599\n" + // fwmark 7 template
		"TCP C0000264 D441 C0000214 01BB C0000215 01BB ESTABLISHED     899\n" + // fwmark 7 connection
		"TCP C0000264 D442 C00002FE 0050 C000020B 0050 ESTABLISHED     899\n")) // not lvsd's
	if err != nil {
		t.Fatal(err)
	}
	got := NewResolver(services).Records(conns)
	want := []Record{
		{Protocol: 6, Flags: FlagDRoute | FlagNoOutput, State: 1, Client: ap("192.0.2.100:54321"), Virtual: ap("192.0.2.10:7000"), Dest: ap("192.0.2.11:7000")},
		{Protocol: 6, Flags: FlagDRoute | FlagNoOutput | FlagInactive, State: 3, Client: ap("192.0.2.100:54322"), Virtual: ap("192.0.2.10:7000"), Dest: ap("192.0.2.12:7000")},
		// TIME_WAIT: left out
		{Protocol: 6, Flags: FlagMasq | FlagTemplate | FlagInactive, State: 0, Client: ap("192.0.2.0:0"), Virtual: ap("192.0.2.10:80"), Dest: ap("192.0.2.11:80"), Timeout: 300},
		{Protocol: 17, Flags: FlagTunnel | FlagNoOutput | FlagInactive, Client: ap("192.0.2.100:40000"), Virtual: ap("192.0.2.10:53"), Dest: ap("192.0.2.11:53")},
		// the IPv6 connection: no service
		{Protocol: 6, Flags: FlagMasq, State: 1, Client: ap("192.0.2.100:54336"), Virtual: ap("192.0.2.10:80"), Dest: ap("192.0.2.11:80")},
		{Protocol: 0, Flags: FlagDRoute | FlagNoOutput | FlagTemplate | FlagInactive, State: 1, Client: ap("192.0.2.0:0"), Virtual: ap("0.0.0.7:0"), Dest: ap("192.0.2.21:0"), FWMark: 7, Timeout: 600},
		{Protocol: 6, Flags: FlagDRoute | FlagNoOutput, State: 1, Client: ap("192.0.2.100:54337"), Virtual: ap("192.0.2.20:443"), Dest: ap("192.0.2.21:443"), FWMark: 7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Records:\n got %+v\nwant %+v", got, want)
	}
}

// TestScanProcStreams: ScanProc hands each connection over in order as
// it reads it, keeping none; an error from the callback ends the scan
// there and comes back as is, and a bad line after good ones is still
// an error naming its line.
func TestScanProcStreams(t *testing.T) {
	var seen []uint32
	if err := ScanProc(strings.NewReader(procSample), func(c Conn) error { seen = append(seen, c.Expires); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []uint32{899, 59, 119, 299, 299, 890}; !reflect.DeepEqual(seen, want) {
		t.Errorf("expiries in order %v, want %v", seen, want)
	}
	stop := errors.New("stop")
	calls := 0
	err := ScanProc(strings.NewReader(procSample), func(Conn) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("callback error: %v after %d calls, want it after 1", err, calls)
	}
	calls = 0
	bad := procSample + "TCP C0000264 XYZ C000020A 1B58 C000020B 1B58 ESTABLISHED 1\n"
	err = ScanProc(strings.NewReader(bad), func(Conn) error { calls++; return nil })
	if err == nil || !strings.Contains(err.Error(), "line 8") || calls != 6 {
		t.Errorf("bad last line: %v after %d calls, want an error naming line 8 after 6", err, calls)
	}
}
