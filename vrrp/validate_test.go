package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.1")
	v3 := Expect{Version: 3, VRID: 51, Interval: time.Second}
	v2 := Expect{Version: 2, VRID: 7, Interval: 3 * time.Second, AuthType: AuthPassword, Password: "secret"}
	v3With := func(change func(*Expect)) Expect { e := v3; change(&e); return e }
	v2With := func(change func(*Expect)) Expect { e := v2; change(&e); return e }
	// pkt3 builds a checksummed version 3 advert from src with changes.
	pkt3 := func(change func(*Advert)) string {
		a := Advert{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: time.Second, Addrs: addrs("192.0.2.100")}
		change(&a)
		b, err := a.Marshal(src, mcast4, ChecksumPseudoHeader)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", b)
	}
	// pkt2 builds a version 2 advert without authentication but with data.
	pkt2 := func(data [8]byte) string {
		a := Advert{Version: 2, Type: 1, VRID: 7, Priority: 200, Interval: 3 * time.Second,
			AuthData: data, Addrs: addrs("198.51.100.10")}
		b, err := a.Marshal(src, mcast4, ChecksumPseudoHeader)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", b)
	}
	tests := []struct {
		name string // RFC 5798 §7.1 check, or RFC 3768 §7.1 for v2
		pkt  string
		ttl  uint8
		exp  Expect
		want error
	}{
		{"v3 accepted", v3Hand, 255, v3, nil},
		{"TTL 254 (off-link)", v3Hand, 254, v3, ErrTTL},
		{"TTL 1", v3Hand, 1, v3, ErrTTL},
		{"version 2 packet, version 3 router", v2Password, 255, v3, ErrVersion},
		{"version 3 packet, version 2 router", v3Hand, 255, v2, ErrVersion},
		{"incomplete packet", v3Hand[:20], 255, v3, ErrShort},
		{"empty packet", "", 255, v3, ErrShort},
		{"bad checksum", v3HandNoPseudo, 255, v3, ErrBadChecksum},
		{"checksum per configured mode", v3HandNoPseudo, 255,
			v3With(func(e *Expect) { e.Checksum = ChecksumNoPseudoHeader }), nil},
		{"other VRID", v3Hand, 255, v3With(func(e *Expect) { e.VRID = 52 }), ErrVRID},
		{"we are the owner", v3Hand, 255, v3With(func(e *Expect) { e.Owner = true }), ErrOwner},
		{"v3 interval differs: learned, not dropped", pkt3(func(a *Advert) { a.Interval = 2 * time.Second }), 255, v3, nil},
		{"v3 interval 0", pkt3(func(a *Advert) { a.Interval = 0 }), 255, v3, ErrInterval},
		{"address list matches in another order", pkt3(func(a *Advert) { a.Addrs = addrs("192.0.2.101", "192.0.2.100") }), 255,
			v3With(func(e *Expect) { e.Addrs = addrs("192.0.2.100", "192.0.2.101") }), nil},
		{"address list differs", v3Hand, 255,
			v3With(func(e *Expect) { e.Addrs = addrs("192.0.2.99") }), ErrAddrList},
		{"address count differs", v3Hand, 255,
			v3With(func(e *Expect) { e.Addrs = addrs("192.0.2.100", "192.0.2.101") }), ErrAddrList},
		{"address list differs, sender claims owner (priority 255)", pkt3(func(a *Advert) { a.Priority = 255 }), 255,
			v3With(func(e *Expect) { e.Addrs = addrs("192.0.2.99") }), ErrAddrList},
		{"owner with our addresses", pkt3(func(a *Advert) { a.Priority = 255 }), 255,
			v3With(func(e *Expect) { e.Addrs = addrs("192.0.2.100") }), nil},
		{"v2 accepted", v2Password, 255, v2, nil},
		{"v2 wrong password", v2Password, 255, v2With(func(e *Expect) { e.Password = "secreT" }), ErrAuth},
		{"v2 password expected, none sent", v2Capture, 255,
			v2With(func(e *Expect) { e.VRID = 1; e.Interval = time.Second }), ErrAuth},
		{"v2 none expected, password sent", v2Password, 255, v2With(func(e *Expect) { e.AuthType = AuthNone }), ErrAuth},
		{"v2 none: auth data ignored (RFC 3768 §5.3.10)", pkt2(Password("junk")), 255,
			v2With(func(e *Expect) { e.AuthType = AuthNone }), nil},
		{"v2 interval differs", v2Password, 255, v2With(func(e *Expect) { e.Interval = time.Second }), ErrInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Validate(unhex(t, tt.pkt), tt.ttl, src, mcast4, tt.exp)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Validate error = %v, want %v", err, tt.want)
			}
			if err != nil {
				if a.Version != 0 {
					t.Fatalf("Validate returned %+v with its error", a)
				}
				return
			}
			if a.From != src || a.VRID != tt.exp.VRID {
				t.Fatalf("Validate = %+v: want From %v and VRID %d", a, src, tt.exp.VRID)
			}
		})
	}
}

func TestReason(t *testing.T) {
	sentinels := []error{ErrShort, ErrVersion, ErrType, ErrBadChecksum, ErrAddrCount, ErrFamily,
		ErrAuth, ErrInterval, ErrTTL, ErrVRID, ErrOwner, ErrAddrList}
	seen := map[DropReason]error{}
	for _, e := range sentinels {
		r := Reason(fmt.Errorf("context: %w", e))
		if r == ReasonNone || r == ReasonOther {
			t.Errorf("Reason(%v) = %q, want a specific reason", e, r)
		}
		if prev, dup := seen[r]; dup {
			t.Errorf("Reason(%v) = Reason(%v) = %q", e, prev, r)
		}
		seen[r] = e
	}
	if r := Reason(nil); r != ReasonNone {
		t.Errorf("Reason(nil) = %q, want empty", r)
	}
	if r := Reason(errors.New("socket closed")); r != ReasonOther {
		t.Errorf("Reason(unknown) = %q, want %q", r, ReasonOther)
	}
	_, err := Validate(unhex(t, v3Hand), 64, netip.MustParseAddr("192.0.2.1"), mcast4, Expect{Version: 3, VRID: 51})
	if r := Reason(err); r != ReasonTTL {
		t.Errorf("Reason(Validate with TTL 64) = %q, want %q", r, ReasonTTL)
	}
}
