package vrrp

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Known-good packets, each checked against a source outside this package.
var (
	// v2Capture is a VRRPv2 advert captured with tcpdump ("IP 192.168.0.30 >
	// 224.0.0.18: VRRPv2, Advertisement, vrid 1, prio 100, authtype none,
	// intvl 1s, length 20"), the IP payload of the frame quoted in
	// gopacket's layers/vrrp_test.go. Checksum 0xba52 covers the message
	// only (RFC 3768 §5.3.8).
	v2Capture = "21016401" + "0001ba52" + "c0a80001" + "0000000000000000"

	// v3Keepalived is a VRRPv3 IPv4 advert sent by keepalived 2.0.x from
	// 10.0.0.3 to 224.0.0.18, as decoded by Wireshark in keepalived issue
	// #1490: vrid 2, priority 150, 3 addresses, interval 100cs, checksum
	// 0x082d, which a keepalived maintainer confirmed correct. It matches
	// only with the IPv4 pseudo-header, keepalived's default.
	v3Keepalived = "31029603" + "0064082d" + "b9cb7001" + "0a000001" + "0a000801"

	// v3Hand is computed by hand. VRID 51, priority 100, interval 100cs,
	// one address 192.0.2.100, sent from 192.0.2.1 to 224.0.0.18:
	//
	//	message words:    3133 6401 0064 [0000] c000 0264      sum 0x157fc
	//	pseudo-header:    c000 0201 e000 0012 0070 000c         sum 0x1a28f
	//	                  (src, dst, zero+proto 112, length 12)
	//	total 0x2fa8b, folded 0xfa8b+0x2 = 0xfa8d, complement 0x0572.
	//	Without the pseudo-header: 0x157fc -> 0x57fd -> 0xa802.
	v3Hand         = "31336401" + "00640572" + "c0000264"
	v3HandNoPseudo = "31336401" + "0064a802" + "c0000264"

	// v3IPv6 and v2Password were computed with an independent Python
	// implementation of RFC 1071 over the RFC 2460 §8.1 pseudo-header
	// (source fe80::1, destination ff02::12) and the bare message.
	v3IPv6 = "31016402" + "00643e2f" + "fe800000000000000000000000000100" +
		"20010db8000000000000000000000100"
	v2Password = "2107c802" + "01038529" + "c633640a" + "c633640b" + "7365637265740000"
)

var (
	mcast4 = netip.MustParseAddr("224.0.0.18")
	mcast6 = netip.MustParseAddr("ff02::12")
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestParseKnownVectors(t *testing.T) {
	tests := []struct {
		name     string
		pkt      string
		src, dst netip.Addr
		mode     ChecksumMode
		want     Advert
	}{{
		name: "v2 tcpdump capture", pkt: v2Capture,
		src: netip.MustParseAddr("192.168.0.30"), dst: mcast4,
		want: Advert{Version: 2, Type: 1, VRID: 1, Priority: 100, Interval: time.Second,
			Checksum: 0xba52, Addrs: addrs("192.168.0.1")},
	}, {
		name: "v3 IPv4 as keepalived sends it", pkt: v3Keepalived,
		src: netip.MustParseAddr("10.0.0.3"), dst: mcast4,
		want: Advert{Version: 3, Type: 1, VRID: 2, Priority: 150, Interval: time.Second,
			Checksum: 0x082d, Addrs: addrs("185.203.112.1", "10.0.0.1", "10.0.8.1")},
	}, {
		name: "v3 IPv4 by hand", pkt: v3Hand,
		src: netip.MustParseAddr("192.0.2.1"), dst: mcast4,
		want: Advert{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: time.Second,
			Checksum: 0x0572, Addrs: addrs("192.0.2.100")},
	}, {
		name: "v3 IPv4 by hand without pseudo-header", pkt: v3HandNoPseudo,
		src: netip.MustParseAddr("192.0.2.1"), dst: mcast4, mode: ChecksumNoPseudoHeader,
		want: Advert{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: time.Second,
			Checksum: 0xa802, Addrs: addrs("192.0.2.100")},
	}, {
		name: "v3 IPv4 legacy unicast uses 224.0.0.18", pkt: v3Hand,
		src: netip.MustParseAddr("192.0.2.1"), dst: netip.MustParseAddr("192.0.2.2"), mode: ChecksumLegacyUnicast,
		want: Advert{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: time.Second,
			Checksum: 0x0572, Addrs: addrs("192.0.2.100")},
	}, {
		name: "v3 IPv6", pkt: v3IPv6,
		src: netip.MustParseAddr("fe80::1"), dst: mcast6,
		want: Advert{Version: 3, Type: 1, VRID: 1, Priority: 100, Interval: time.Second,
			Checksum: 0x3e2f, Addrs: addrs("fe80::100", "2001:db8::100")},
	}, {
		name: "v2 simple password", pkt: v2Password,
		src: netip.MustParseAddr("198.51.100.2"), dst: mcast4,
		want: Advert{Version: 2, Type: 1, VRID: 7, Priority: 200, Interval: 3 * time.Second,
			AuthType: AuthPassword, AuthData: Password("secret"), Checksum: 0x8529,
			Addrs: addrs("198.51.100.10", "198.51.100.11")},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkt := unhex(t, tt.pkt)
			got, err := Parse(pkt, tt.src, tt.dst, tt.mode)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.want.From = tt.src
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
			tt.want.Checksum = 0 // Marshal must compute it
			out, err := tt.want.Marshal(tt.src, tt.dst, tt.mode)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if hex.EncodeToString(out) != tt.pkt {
				t.Fatalf("Marshal:\n got %x\nwant %s", out, tt.pkt)
			}
		})
	}
}

// TestChecksumModeMismatch shows the interop failure that ChecksumMode
// exists for: each reading of RFC 5798 §5.2.8 rejects the other's packets.
func TestChecksumModeMismatch(t *testing.T) {
	src, uni := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	tests := []struct {
		name string
		pkt  string
		dst  netip.Addr
		mode ChecksumMode
	}{
		{"pseudo-header packet, no-pseudo-header receiver", v3Hand, mcast4, ChecksumNoPseudoHeader},
		{"no-pseudo-header packet, pseudo-header receiver", v3HandNoPseudo, mcast4, ChecksumPseudoHeader},
		{"legacy unicast packet, current unicast receiver", v3Hand, uni, ChecksumPseudoHeader},
		{"wrong destination", v3Hand, netip.MustParseAddr("224.0.0.19"), ChecksumPseudoHeader},
		{"IPv6 wrong source", v3IPv6, mcast6, ChecksumPseudoHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := src
			if tt.dst.Is6() {
				from = netip.MustParseAddr("fe80::2")
			}
			_, err := Parse(unhex(t, tt.pkt), from, tt.dst, tt.mode)
			if !errors.Is(err, ErrBadChecksum) {
				t.Fatalf("Parse error = %v, want ErrBadChecksum", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("fe80::1")
	tests := []struct {
		name     string
		pkt      string
		src, dst netip.Addr
		want     error
	}{
		{"empty", "", v4, mcast4, ErrShort},
		{"header cut", "3133640100", v4, mcast4, ErrShort},
		{"version 1", "11336401" + "00640572" + "c0000264", v4, mcast4, ErrVersion},
		{"version 4", "41336401" + "00640572" + "c0000264", v4, mcast4, ErrVersion},
		{"type 0", "30336401" + "00640572" + "c0000264", v4, mcast4, ErrType},
		{"type 2", "32336401" + "00640572" + "c0000264", v4, mcast4, ErrType},
		{"v3 count 0", "31336400" + "00640572", v4, mcast4, ErrAddrCount},
		{"v3 address cut", "31336401" + "00640572" + "c00002", v4, mcast4, ErrShort},
		{"v3 count 2 with 12 bytes", "31336402" + "00640572" + "c0000264c0000265c0000266", v4, mcast4, ErrAddrCount},
		{"v3 trailing bytes", "31336401" + "00640572" + "c0000264" + "00000000" + "000000000000000000", v4, mcast4, ErrAddrCount},
		{"v3 IPv4-mapped IPv6 address (found by FuzzUnmarshal)",
			"31016401" + "00640000" + "00000000000000000000ffffc0000201", v6, mcast6, ErrFamily},
		{"v3 IPv4 addresses over IPv6", v3Hand, v6, mcast6, ErrFamily},
		{"v3 IPv6 addresses over IPv4", v3IPv6, v4, mcast4, ErrFamily},
		{"v3 mixed source and destination", v3Hand, v4, mcast6, ErrFamily},
		{"v3 no destination", v3Hand, v4, netip.Addr{}, ErrFamily},
		{"v2 over IPv6", v2Capture, v6, mcast6, ErrVersion},
		{"v2 auth data cut", "21016401" + "0001ba52" + "c0a80001" + "00000000", v4, mcast4, ErrShort},
		{"v2 trailing bytes", v2Capture + "00", v4, mcast4, ErrAddrCount},
		{"v2 IP AH", "21016401" + "0201ba52" + "c0a80001" + "0000000000000000", v4, mcast4, ErrAuth},
		{"v2 auth type 3", "21016401" + "0301ba52" + "c0a80001" + "0000000000000000", v4, mcast4, ErrAuth},
		{"v2 bad checksum", "21016401" + "0001ba53" + "c0a80001" + "0000000000000000", v4, mcast4, ErrBadChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Parse(unhex(t, tt.pkt), tt.src, tt.dst, ChecksumPseudoHeader)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(a, Advert{}) {
				t.Fatalf("Parse returned %+v with its error, want the zero Advert", a)
			}
			if !strings.Contains(err.Error(), "advert") {
				t.Fatalf("error %q lacks context", err)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	good := Advert{Version: 3, Type: TypeAdvertisement, VRID: 1, Priority: 100,
		Interval: time.Second, Addrs: addrs("192.0.2.100")}
	many := make([]netip.Addr, 256)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
	}
	tests := []struct {
		name   string
		change func(*Advert)
		want   error
	}{
		{"version 0", func(a *Advert) { a.Version = 0 }, ErrVersion},
		{"type 0", func(a *Advert) { a.Type = 0 }, ErrType},
		{"v3 no addresses", func(a *Advert) { a.Addrs = nil }, ErrAddrCount},
		{"256 addresses", func(a *Advert) { a.Addrs = many }, ErrAddrCount},
		{"mixed families", func(a *Advert) { a.Addrs = addrs("192.0.2.1", "2001:db8::1") }, ErrFamily},
		{"4in6 address", func(a *Advert) { a.Addrs = addrs("::ffff:192.0.2.1") }, ErrFamily},
		{"zero address", func(a *Advert) { a.Addrs = []netip.Addr{{}} }, ErrFamily},
		{"v2 IPv6", func(a *Advert) { a.Version, a.Addrs = 2, addrs("2001:db8::1") }, ErrFamily},
		{"v3 interval 5ms", func(a *Advert) { a.Interval = 5 * time.Millisecond }, ErrInterval},
		{"v3 interval 40.96s", func(a *Advert) { a.Interval = 40960 * time.Millisecond }, ErrInterval},
		{"negative interval", func(a *Advert) { a.Interval = -time.Second }, ErrInterval},
		{"v2 interval 1.5s", func(a *Advert) { a.Version, a.Interval = 2, 1500*time.Millisecond }, ErrInterval},
		{"v2 interval 256s", func(a *Advert) { a.Version, a.Interval = 2, 256*time.Second }, ErrInterval},
		{"v2 AH", func(a *Advert) { a.Version, a.AuthType = 2, AuthAH }, ErrAuth},
		{"v3 with auth", func(a *Advert) { a.AuthType = AuthPassword }, ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := good
			tt.change(&a)
			if _, err := a.MarshalBinary(); !errors.Is(err, tt.want) {
				t.Errorf("MarshalBinary error = %v, want %v", err, tt.want)
			}
			if _, err := a.Marshal(netip.MustParseAddr("192.0.2.1"), mcast4, 0); !errors.Is(err, tt.want) {
				t.Errorf("Marshal error = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := good.Marshal(netip.MustParseAddr("fe80::1"), mcast6, 0); !errors.Is(err, ErrFamily) {
		t.Errorf("Marshal IPv4 addresses over IPv6: error = %v, want ErrFamily", err)
	}
	if _, err := good.MarshalBinary(); err != nil {
		t.Errorf("MarshalBinary of the base advert: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	src4, src6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("fe80::1")
	tests := []struct {
		name     string
		a        Advert
		src, dst netip.Addr
	}{
		{"v3 IPv4 max interval", Advert{Version: 3, Type: 1, VRID: 255, Priority: 255,
			Interval: maxIntervalV3, Addrs: addrs("192.0.2.100", "192.0.2.101")}, src4, mcast4},
		{"v3 IPv4 10ms", Advert{Version: 3, Type: 1, VRID: 1, Priority: 0,
			Interval: 10 * time.Millisecond, Addrs: addrs("192.0.2.100")}, src4, mcast4},
		{"v3 IPv6", Advert{Version: 3, Type: 1, VRID: 9, Priority: 1,
			Interval: 250 * time.Millisecond, Addrs: addrs("fe80::9", "2001:db8::9")}, src6, mcast6},
		{"v2 no addresses", Advert{Version: 2, Type: 1, VRID: 2, Priority: 10,
			Interval: 255 * time.Second}, src4, mcast4},
		{"v2 password", Advert{Version: 2, Type: 1, VRID: 2, Priority: 10, Interval: time.Second,
			AuthType: AuthPassword, AuthData: Password("longer than eight"), Addrs: addrs("192.0.2.7")}, src4, mcast4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.a.Marshal(tt.src, tt.dst, ChecksumPseudoHeader)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := Parse(b, tt.src, tt.dst, ChecksumPseudoHeader)
			if err != nil {
				t.Fatalf("Parse(%x): %v", b, err)
			}
			want := tt.a
			want.From, want.Checksum = tt.src, got.Checksum
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
			}
			var raw Advert
			if err := raw.UnmarshalBinary(b); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			again, err := raw.MarshalBinary()
			if err != nil || string(again) != string(b) {
				t.Fatalf("MarshalBinary(UnmarshalBinary(b)) = %x, %v; want %x", again, err, b)
			}
		})
	}
}

// TestReservedBitsIgnored checks RFC 5798 §5.2.6: the 4 reserved bits
// before Max Adver Int are ignored on receipt and sent as zero.
func TestReservedBitsIgnored(t *testing.T) {
	pkt := unhex(t, v3Hand)
	pkt[4] |= 0xf0
	var a Advert
	if err := a.UnmarshalBinary(pkt); err != nil {
		t.Fatal(err)
	}
	if a.Interval != time.Second {
		t.Fatalf("Interval = %v, want 1s", a.Interval)
	}
	out, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if out[4] != 0x00 {
		t.Fatalf("reserved bits sent as %#x, want 0", out[4]>>4)
	}
}

// TestParseReservedBitsSet is the input FuzzParse found: reserved bits
// that are set count in the checksum (it covers the whole message) but are
// dropped from the Advert, so Marshal sends them as zero with a new
// checksum. By hand from v3Hand: word 0x0064 becomes 0xc064, the folded
// sum 0xfa8d + 0xc000 = 0x1ba8d folds to 0xba8e, complement 0x4571.
func TestParseReservedBitsSet(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.1")
	a, err := Parse(unhex(t, "31336401"+"c0644571"+"c0000264"), src, mcast4, ChecksumPseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	out, err := a.Marshal(src, mcast4, ChecksumPseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(out) != v3Hand {
		t.Fatalf("Marshal = %x, want %s", out, v3Hand)
	}
}

func TestPassword(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", "0000000000000000"},
		{"secret", "7365637265740000"},
		{"12345678", "3132333435363738"},
		{"123456789", "3132333435363738"}, // truncated, as keepalived does
	}
	for _, tt := range tests {
		got := Password(tt.in)
		if hex.EncodeToString(got[:]) != tt.want {
			t.Errorf("Password(%q) = %x, want %s", tt.in, got, tt.want)
		}
	}
}

func TestChecksumModeString(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range []ChecksumMode{ChecksumPseudoHeader, ChecksumNoPseudoHeader, ChecksumLegacyUnicast, 9} {
		s := m.String()
		if s == "" || seen[s] {
			t.Errorf("ChecksumMode(%d).String() = %q: empty or repeated", m, s)
		}
		seen[s] = true
	}
}
