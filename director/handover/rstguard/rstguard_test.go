package rstguard

import (
	"bytes"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSetKey(t *testing.T) {
	tests := []struct {
		ep   string
		key  []byte
		is4  bool
		size int
	}{
		{"192.0.2.10:80", []byte{192, 0, 2, 10, 0x00, 0x50, 0, 0}, true, key4Len},
		{"192.0.2.10:65535", []byte{192, 0, 2, 10, 0xff, 0xff, 0, 0}, true, key4Len},
		// IPv4-mapped: the reset leaves through the IPv4 stack.
		{"[::ffff:192.0.2.10]:80", []byte{192, 0, 2, 10, 0x00, 0x50, 0, 0}, true, key4Len},
		{"[2001:db8::10]:443", []byte{
			0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
			0x01, 0xbb, 0, 0,
		}, false, key6Len},
		// The zone is no part of the key: the rule matches bytes only.
		{"[2001:db8::10%eth0]:443", []byte{
			0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
			0x01, 0xbb, 0, 0,
		}, false, key6Len},
	}
	for _, tt := range tests {
		key, is4 := setKey(netip.MustParseAddrPort(tt.ep))
		if !bytes.Equal(key, tt.key) || is4 != tt.is4 {
			t.Errorf("setKey(%s) = % x, is4 %v; want % x, is4 %v", tt.ep, key, is4, tt.key, tt.is4)
		}
		if len(key) != tt.size {
			t.Errorf("setKey(%s): %d bytes, want %d", tt.ep, len(key), tt.size)
		}
	}
}

func TestSplitKeys(t *testing.T) {
	eps := []netip.AddrPort{
		netip.MustParseAddrPort("[2001:db8::10]:443"),
		netip.MustParseAddrPort("192.0.2.10:80"),
		netip.MustParseAddrPort("[::ffff:192.0.2.10]:80"), // same as the one before
		netip.MustParseAddrPort("192.0.2.10:443"),
		netip.MustParseAddrPort("[2001:db8::10]:443"), // repeated
		netip.MustParseAddrPort("[2001:db8::10]:80"),
	}
	v4, v6, err := splitKeys(eps)
	if err != nil {
		t.Fatal(err)
	}
	want4 := [][]byte{
		{192, 0, 2, 10, 0, 80, 0, 0},
		{192, 0, 2, 10, 0x01, 0xbb, 0, 0},
	}
	ip6 := netip.MustParseAddr("2001:db8::10").AsSlice()
	want6 := [][]byte{
		append(append([]byte{}, ip6...), 0x01, 0xbb, 0, 0),
		append(append([]byte{}, ip6...), 0, 80, 0, 0),
	}
	if !slices.EqualFunc(v4, want4, bytes.Equal) {
		t.Errorf("v4 = % x, want % x", v4, want4)
	}
	if !slices.EqualFunc(v6, want6, bytes.Equal) {
		t.Errorf("v6 = % x, want % x", v6, want6)
	}
}

func TestSplitKeysEmpty(t *testing.T) {
	v4, v6, err := splitKeys(nil)
	if err != nil || len(v4) != 0 || len(v6) != 0 {
		t.Errorf("splitKeys(nil) = %v, %v, %v; want nothing", v4, v6, err)
	}
}

func TestSplitKeysRefusesNoAddress(t *testing.T) {
	eps := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.10:80"), {}}
	_, _, err := splitKeys(eps)
	if err == nil || !strings.Contains(err.Error(), "endpoint 1") {
		t.Errorf("splitKeys with a zero AddrPort: err = %v, want one naming endpoint 1", err)
	}
}

func TestHoldsKeys(t *testing.T) {
	vip := netip.MustParseAddrPort("192.0.2.10:80")
	real4 := netip.MustParseAddrPort("198.51.100.11:8080")
	real6 := netip.MustParseAddrPort("[2001:db8::11]:8080")
	// An endpoint can be of both kinds (a director that is also a
	// realserver's gateway for its own VIP:port): it goes to both sets.
	h := Holds{
		Resets:  []netip.AddrPort{vip, vip},
		Replies: []netip.AddrPort{real4, real6, vip, netip.MustParseAddrPort("[::ffff:198.51.100.11]:8080")},
	}
	k, err := h.keys()
	if err != nil {
		t.Fatal(err)
	}
	key := func(ep netip.AddrPort) []byte { b, _ := setKey(ep); return b }
	want := holdKeys{
		held4:    [][]byte{key(vip)},
		replies4: [][]byte{key(real4), key(vip)},
		replies6: [][]byte{key(real6)},
	}
	for _, s := range []struct {
		name      string
		got, want [][]byte
	}{
		{"held4", k.held4, want.held4},
		{"held6", k.held6, want.held6},
		{"replies4", k.replies4, want.replies4},
		{"replies6", k.replies6, want.replies6},
	} {
		if !slices.EqualFunc(s.got, s.want, bytes.Equal) {
			t.Errorf("%s = % x, want % x", s.name, s.got, s.want)
		}
	}
	if k, err := (Holds{}).keys(); err != nil || !reflect.DeepEqual(k, holdKeys{}) {
		t.Errorf("keys of no holds = %+v, %v; want nothing", k, err)
	}
}

func TestCheckWindow(t *testing.T) {
	tests := []struct {
		n  int
		d  time.Duration
		ok bool
	}{
		{0, 0, true}, // release everything
		{1, 2 * time.Second, true},
		{1, time.Millisecond, true},
		{1, 0, false},                      // would never expire
		{1, 999 * time.Microsecond, false}, // 0 ms: would never expire
		{1, -time.Second, false},
	}
	for _, tt := range tests {
		err := checkWindow(tt.n, tt.d)
		if (err == nil) != tt.ok {
			t.Errorf("checkWindow(%d, %v) = %v, want ok %v", tt.n, tt.d, err, tt.ok)
		}
	}
}
