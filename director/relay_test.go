package director

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover"
	"github.com/lvsd/lvsd/director/handover/rstguard"
)

// natPair is the demo's NAT pair: front VIP 192.0.2.10 on e0, gateway VIP
// 198.51.100.1/24 on e1, one NAT service with a realserver on the back
// segment and a fwmark service that is never relayed.
func natPair() *config.Config {
	return &config.Config{
		Sync: &config.Sync{Interface: "e1", HoldResets: 3 * time.Second},
		Instances: []config.Instance{
			{Name: "front", VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}},
			{Name: "gateway", VIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24")}},
		},
		Services: []config.Service{
			{Name: "app", Virtual: netip.MustParseAddrPort("192.0.2.10:80"), Protocol: "tcp",
				Reals: []config.Real{{Addr: netip.MustParseAddrPort("198.51.100.11:8080"), Forward: config.NAT}}},
			{Name: "marked", FWMark: 7, Reals: []config.Real{{Addr: netip.MustParseAddrPort("198.51.100.12:8080"), Forward: config.NAT}}},
		},
	}
}

func TestRelaysOfPicksThePeerOfEachSegment(t *testing.T) {
	peers := handover.Peers{"front": netip.MustParseAddr("192.0.2.2"), "gateway": netip.MustParseAddr("198.51.100.3")}
	got := handover.RelaysOf(natPair(), peers)
	want := rstguard.Relays{
		In:      map[netip.AddrPort]netip.Addr{netip.MustParseAddrPort("192.0.2.10:80"): netip.MustParseAddr("192.0.2.2")},
		Replies: map[netip.AddrPort]netip.Addr{netip.MustParseAddrPort("198.51.100.11:8080"): netip.MustParseAddr("198.51.100.3")},
		Local:   []netip.AddrPort{netip.MustParseAddrPort("192.0.2.10:80")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RelaysOf = %+v, want %+v", got, want)
	}
	cfg := natPair()
	cfg.Sync.HoldResets = 0
	if r := handover.RelaysOf(cfg, peers); !r.Empty() {
		t.Errorf("with hold_resets 0 RelaysOf = %+v, want nothing", r)
	}
	if r := handover.RelaysOf(natPair(), handover.Peers{}); len(r.In)+len(r.Replies) != 0 {
		t.Errorf("with no peer heard RelaysOf relays %+v, want nothing but Local", r)
	}
}

// TestComposeRelayByRole: what each role relays, and that a director that
// just released the VIPs passes no segment on (the new master passes to
// it; both passing would bounce a segment neither knows).
func TestComposeRelayByRole(t *testing.T) {
	all := handover.RelaysOf(natPair(), handover.Peers{"front": netip.MustParseAddr("192.0.2.2"), "gateway": netip.MustParseAddr("198.51.100.3")})
	window := 3 * time.Second
	cases := []struct {
		role      relayRole
		localLeft time.Duration
		want      rstguard.Relays
		wantFor   time.Duration
	}{
		{relayTook, 0, rstguard.Relays{In: all.In, Replies: all.Replies, Local: all.Local, LocalFor: idleHold}, window},
		{relayMaster, 0, rstguard.Relays{Local: all.Local}, idleHold},
		{relayResigning, 0, rstguard.Relays{Replies: all.Replies, Local: all.Local, LocalFor: idleHold}, window},
		{relayReleased, 0, rstguard.Relays{Replies: all.Replies, Local: all.Local, LocalFor: window}, idleHold},
		{relayBackup, time.Second, rstguard.Relays{Replies: all.Replies, Local: all.Local, LocalFor: time.Second}, idleHold},
		{relayBackup, 0, rstguard.Relays{In: all.In, Replies: all.Replies}, idleHold},
	}
	for _, c := range cases {
		got, d := composeRelay(c.role, all, window, c.localLeft)
		if !reflect.DeepEqual(got, c.want) || d != c.wantFor {
			t.Errorf("%v (window left %v): %+v for %v, want %+v for %v", c.role, c.localLeft, got, d, c.want, c.wantFor)
		}
		if len(got.In) > 0 && len(got.Local) > 0 && c.role != relayTook {
			t.Errorf("%v passes segments on while keeping the VIP:ports local: a segment neither knows would bounce", c.role)
		}
	}
}
