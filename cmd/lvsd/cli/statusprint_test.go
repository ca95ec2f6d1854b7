package cli

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

func TestWriteStatusShowsThePairAndEveryRealserver(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rs := netip.MustParseAddrPort
	s := api.Status{
		Node: "a", Generation: 3,
		VRRP: []api.Instance{{Name: "front", Interface: "e0", VRID: 51, State: api.StateBackup, Priority: 100,
			Master: netip.MustParseAddr("192.0.2.1"), Since: now.Add(-time.Minute), LastAdvert: now.Add(-300 * time.Millisecond),
			PeerAddr: netip.MustParseAddr("192.0.2.1")}},
		Health: []api.Real{
			{Service: "web", Real: rs("198.51.100.11:80"), Virtual: "TCP 192.0.2.10:80", Type: "http", State: api.HealthGoingDown,
				Up: true, Failures: 1, Fall: 3, Weight: 100, LastCheck: now.Add(-time.Second), LastReason: "timeout",
				LastDetail: "no answer", LastLatency: 1500 * time.Microsecond},
			{Service: "web", Real: rs("198.51.100.12:80"), Virtual: "TCP 192.0.2.10:80", Type: "http", State: api.HealthDrained,
				Up: true, Drained: true, Weight: 50},
		},
		IPVS: api.IPVSStatus{Services: []api.ServiceStatus{{Key: "TCP 192.0.2.10:80", Scheduler: "wlc", Reals: []api.RealStatus{
			{Addr: "198.51.100.11:80", Weight: 100, Active: 4, Inactive: 5, CPS: 6},
			{Addr: "198.51.100.12:80", Weight: 0, Active: 1},
		}}}},
		LastReload: &api.ReloadResult{At: now, Errors: []string{"lvsd.yaml:3: bad"}},
		Events:     []api.Event{{At: now, Kind: "realserver", Subject: "web 198.51.100.11:80", From: "down", To: "up"}},
	}
	var b bytes.Buffer
	writeStatus(&b, s, now)
	out := b.String()
	for _, want := range []string{
		"vrrp front", "BACKUP", "300ms ago from 192.0.2.1",
		"service web (TCP 192.0.2.10:80 wlc", "1/2 up",
		"198.51.100.11:80  going-down", "timeout (no answer)", "1.5ms", "1/3 failed", "100/100", "4       5",
		"198.51.100.12:80  drained", "50/0",
		"REJECTED", "lvsd.yaml:3: bad", "web 198.51.100.11:80: down -> up",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
