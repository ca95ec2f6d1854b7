package vrrp

import (
	"net/netip"
	"testing"
	"time"
)

// TestOwnerClaimOtherAddressesDropped is the regression test for a bug
// the hostile-advert test found: a host that sent priority 255 for our
// VRID while advertising other addresses than ours passed Validate (RFC
// 5798 §7.1's owner exception), so a master stepped down to it and
// announced our VIPs at its MAC. It is now dropped as addr_list; an
// owner that advertises our addresses is still heard.
func TestOwnerClaimOtherAddressesDropped(t *testing.T) {
	src, vip := netip.MustParseAddr("192.0.2.66"), netip.MustParseAddr("192.0.2.10")
	exp := Expect{Version: 3, VRID: 51, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{vip}}
	for _, tc := range []struct {
		addrs []netip.Addr
		want  DropReason
	}{
		{[]netip.Addr{netip.MustParseAddr("192.0.2.99")}, ReasonAddrList},
		{[]netip.Addr{vip, netip.MustParseAddr("192.0.2.99")}, ReasonAddrList},
		{[]netip.Addr{vip}, ReasonNone},
	} {
		a := Advert{Version: 3, Type: TypeAdvertisement, VRID: 51, Priority: 255, Interval: 100 * time.Millisecond, Addrs: tc.addrs}
		b, err := a.Marshal(src, MulticastIPv4, ChecksumPseudoHeader)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Validate(b, 255, src, MulticastIPv4, exp)
		if got := Reason(err); got != tc.want {
			t.Errorf("priority 255 advertising %v: drop reason %q (%v), want %q", tc.addrs, got, err, tc.want)
		}
	}
}
