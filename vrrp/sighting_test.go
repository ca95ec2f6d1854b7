package vrrp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
)

var (
	sightVIP4 = netip.MustParseAddr("192.0.2.100")
	sightVIP6 = netip.MustParseAddr("2001:db8::100")
)

func arpBytes(t *testing.T, op arp.Operation, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	t.Helper()
	p, err := arp.NewPacket(op, sha, spa, tha, tpa)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.MarshalBinary()
	return b
}

func TestParseARP(t *testing.T) {
	zero := make(net.HardwareAddr, 6)
	client := netip.MustParseAddr("192.0.2.7")
	garps, err := arpAnnounce(otherMAC, sightVIP4)
	if err != nil {
		t.Fatal(err)
	}
	probe, err := arpProbe(ownMAC, sightVIP4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		ok   bool
		kind ClaimKind
	}{
		{"gratuitous request", garps[0], true, ClaimAnnounce},
		{"gratuitous reply", garps[1], true, ClaimAnnounce},
		{"reply", arpBytes(t, arp.OperationReply, otherMAC, sightVIP4, ownMAC, client), true, ClaimReply},
		{"request from the address", arpBytes(t, arp.OperationRequest, otherMAC, sightVIP4, zero, client), true, ClaimOther},
		// RFC 5227 §2.1.1: a probe's sender address is 0.0.0.0; it claims nothing.
		{"probe", probe, false, ""},
		{"short", garps[0][:20], false, ""},
		{"not IPv4 over Ethernet", append([]byte{0, 6}, garps[0][2:]...), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := parseARP(tc.b, otherMAC)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, tc.ok, s)
			}
			if ok && (s.Addr != sightVIP4 || !bytes.Equal(s.MAC, otherMAC) || !bytes.Equal(s.EthSrc, otherMAC) || s.Kind != tc.kind) {
				t.Errorf("sighting %+v, want %v at %v (%s)", s, sightVIP4, otherMAC, tc.kind)
			}
		})
	}
	// The probe asks for the address from ours, with an all-zero target MAC.
	var p arp.Packet
	if err := p.UnmarshalBinary(probe); err != nil || p.Operation != arp.OperationRequest ||
		!bytes.Equal(p.SenderHardwareAddr, ownMAC) || !p.SenderIP.IsUnspecified() || p.TargetIP != sightVIP4 || !bytes.Equal(p.TargetHardwareAddr, zero) {
		t.Errorf("probe %+v, %v", p, err)
	}
}

func TestParseNA(t *testing.T) {
	b, err := naAnnounce(winnerMAC, sightVIP6, true)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := parseNA(b, ownMAC)
	if !ok || s.Addr != sightVIP6 || !bytes.Equal(s.MAC, winnerMAC) || !bytes.Equal(s.EthSrc, ownMAC) || s.Kind != ClaimAnnounce {
		t.Errorf("announcement: %+v %v; want %v at %v, announce", s, ok, sightVIP6, winnerMAC)
	}
	// A solicited answer without the target link-layer option: the
	// frame's source is the MAC.
	icmp, err := ndp.MarshalMessageChecksum(&ndp.NeighborAdvertisement{Solicited: true, TargetAddress: sightVIP6},
		sightVIP6, netip.IPv6LinkLocalAllNodes())
	if err != nil {
		t.Fatal(err)
	}
	solicited := ipv6Packet(sightVIP6, netip.IPv6LinkLocalAllNodes(), icmp)
	if s, ok := parseNA(solicited, otherMAC); !ok || !bytes.Equal(s.MAC, otherMAC) || s.Kind != ClaimReply {
		t.Errorf("solicited: %+v %v; want at the frame's source, reply", s, ok)
	}
	offLink := bytes.Clone(b)
	offLink[7] = 64 // RFC 4861 §7.1.2: hop limit must be 255
	for name, pkt := range map[string][]byte{"hop limit 64": offLink, "truncated": b[:50], "bad length": append(bytes.Clone(b[:4]), append([]byte{0xff, 0xff}, b[6:]...)...)} {
		if s, ok := parseNA(pkt, otherMAC); ok {
			t.Errorf("%s: accepted as %+v", name, s)
		}
	}
}

func TestNSProbe(t *testing.T) {
	b, mac, err := nsProbe(sightVIP6)
	if err != nil {
		t.Fatal(err)
	}
	group := netip.MustParseAddr("ff02::1:ff00:100")
	if want := (net.HardwareAddr{0x33, 0x33, 0xff, 0, 1, 0}); !bytes.Equal(mac, want) {
		t.Errorf("destination MAC %v, want %v", mac, want)
	}
	src, _ := netip.AddrFromSlice(b[8:24])
	dst, _ := netip.AddrFromSlice(b[24:40])
	if !src.IsUnspecified() || dst != group || b[7] != 255 {
		t.Errorf("ip header: from %v to %v hop limit %d; want :: to %v, 255", src, dst, b[7], group)
	}
	m, err := ndp.ParseMessage(b[40:])
	ns, ok := m.(*ndp.NeighborSolicitation)
	if err != nil || !ok || ns.TargetAddress != sightVIP6 || len(ns.Options) != 0 {
		// RFC 4861 §4.3: no source link-layer option from ::.
		t.Errorf("solicitation %+v %v", m, err)
	}
}

// FuzzParseSighting: the watcher's decoders never panic, and whatever
// they accept has a valid address of their family.
func FuzzParseSighting(f *testing.F) {
	garps, _ := arpAnnounce(otherMAC, sightVIP4)
	na, _ := naAnnounce(winnerMAC, sightVIP6, false)
	for _, b := range [][]byte{garps[0], garps[1], na, {}, {0, 1, 8, 0, 6, 4}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, ok := parseARP(b, otherMAC); ok && (!s.Addr.Is4() || len(s.MAC) != 6) {
			t.Errorf("arp: %+v", s)
		}
		if s, ok := parseNA(b, otherMAC); ok && !s.Addr.Is6() {
			t.Errorf("na: %+v", s)
		}
	})
}
