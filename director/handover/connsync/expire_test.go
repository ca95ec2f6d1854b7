package connsync

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
)

// TestExpiries: only closed TCP connections (TIME_WAIT, CLOSE) of lvsd's
// services are aged, each with its own destination, state and forwarding
// flags plus FlagInactive and a 1 s timeout; live states, templates, UDP
// and entries lvsd does not manage are left to the kernel.
func TestExpiries(t *testing.T) {
	services := []config.Service{
		{Protocol: "tcp", Virtual: ap("192.0.2.10:7000"), Forward: config.NAT,
			Reals: []config.Real{{Addr: ap("192.0.2.11:7000"), Forward: config.NAT}, {Addr: ap("192.0.2.12:7000"), Forward: config.DR}}},
		{Protocol: "tcp", Virtual: ap("192.0.2.10:80"), Forward: config.NAT, Persistence: &config.Persistence{Timeout: 300 * time.Second},
			Reals: []config.Real{{Addr: ap("192.0.2.11:80"), Forward: config.NAT}}},
		{Protocol: "udp", Virtual: ap("192.0.2.10:53"), Forward: config.NAT, Reals: []config.Real{{Addr: ap("192.0.2.11:53"), Forward: config.NAT}}},
		{Protocol: "tcp", Virtual: ap("[2001:db8::a]:443"), Forward: config.Tunnel, IPv6: true,
			Reals: []config.Real{{Addr: ap("[2001:db8::b]:443"), Forward: config.Tunnel}}},
		{FWMark: 7, Forward: config.DR, Reals: []config.Real{{Addr: ap("192.0.2.21:0"), Forward: config.DR}}},
	}
	const v6 = "2001:0db8:0000:0000:0000:0000:0000:00"
	conns, err := ParseProc(strings.NewReader(`Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP C0000264 D431 C000020A 1B58 C000020B 1B58 TIME_WAIT       119
TCP C0000264 D432 C000020A 1B58 C000020C 1B58 CLOSE             9
TCP C0000264 D433 C000020A 1B58 C000020B 1B58 ESTABLISHED     899
TCP C0000264 D434 C000020A 1B58 C000020B 1B58 SYN_RECV         59
TCP C0000264 D435 C000020A 1B58 C000020B 1B58 FIN_WAIT        119
TCP C0000264 D436 C000020A 1B58 C000020B 1B58 CLOSE_WAIT       59
TCP C0000264 D437 C000020A 1B58 C000020B 1B58 LAST_ACK         29
TCP C0000200 0000 C000020A 0050 C000020B 0050 NONE            299
TCP C0000200 0000 C000020A 0050 C000020B 0050 TIME_WAIT       299
UDP C0000264 9C40 C000020A 0035 C000020B 0035 UDP             299
TCP C0000264 D438 C00002FE 1B58 C000020B 1B58 TIME_WAIT       119
TCP C0000264 D439 C000020A 1B58 C00002FE 1B58 TIME_WAIT       119
TCP C0000264 D43A C0000214 01BB C0000215 01BB TIME_WAIT       100
TCP C0000264 D43C C000020A 1B58 C000020B 1B58 TIME_WAIT         1
TCP ` + v6 + `64 D43B ` + v6 + `0a 01BB ` + v6 + `0b 01BB CLOSE 5
`))
	if err != nil {
		t.Fatal(err)
	}
	got := NewResolver(services).Expiries(conns)
	want := []Record{
		{Protocol: 6, Flags: FlagMasq | FlagInactive, State: 5, Timeout: 1,
			Client: ap("192.0.2.100:54321"), Virtual: ap("192.0.2.10:7000"), Dest: ap("192.0.2.11:7000")},
		{Protocol: 6, Flags: FlagDRoute | FlagNoOutput | FlagInactive, State: 6, Timeout: 1,
			Client: ap("192.0.2.100:54322"), Virtual: ap("192.0.2.10:7000"), Dest: ap("192.0.2.12:7000")},
		// live states, the templates, UDP, a VIP and a destination lvsd
		// does not manage, an entry with 1 s left: left out
		{Protocol: 6, Flags: FlagDRoute | FlagNoOutput | FlagInactive, State: 5, Timeout: 1, FWMark: 7,
			Client: ap("192.0.2.100:54330"), Virtual: ap("192.0.2.20:443"), Dest: ap("192.0.2.21:443")},
		{Protocol: 6, Flags: FlagTunnel | FlagNoOutput | FlagInactive, State: 6, Timeout: 1,
			Client: ap("[2001:db8::64]:54331"), Virtual: ap("[2001:db8::a]:443"), Dest: ap("[2001:db8::b]:443")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Expiries:\n got %+v\nwant %+v", got, want)
	}
}

// TestExpiryGolden pins an expiry record on the wire: flags
// IP_VS_CONN_F_INACTIVE, state IP_VS_TCP_S_TIME_WAIT, timeout 1 s.
func TestExpiryGolden(t *testing.T) {
	recs := NewResolver([]config.Service{{Protocol: "tcp", Virtual: ap("192.0.2.10:7000"), Forward: config.NAT,
		Reals: []config.Real{{Addr: ap("192.0.2.11:7000"), Forward: config.NAT}}}}).
		Expiries([]Conn{{Protocol: 6, Client: ap("192.0.2.100:43626"), Virtual: ap("192.0.2.10:7000"), Dest: ap("192.0.2.11:7000"),
			State: "TIME_WAIT", Expires: 119}})
	msgs, err := Encode(7, recs, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := mustHex(t, "00 07 002c 01 01 0000"+
		"00 06 0024 00000100 0005 aa6a 1b58 1b58 00000000 00000001 c0000264 c000020a c000020b")
	if len(msgs) != 1 || !bytes.Equal(msgs[0], w) {
		t.Fatalf("Encode:\n got %x\nwant %x", msgs, w)
	}
}
