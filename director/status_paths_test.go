package director

import (
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lvsd/vrrp"
)

func TestHeartbeatPaths(t *testing.T) {
	if got := heartbeatPaths([]vrrp.PathStatus{{Interface: "eth0"}}); got != nil {
		t.Errorf("one path: %+v, want none shown", got)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := heartbeatPaths([]vrrp.PathStatus{
		{Interface: "eth0", Source: netip.MustParseAddr("192.0.2.1"), Silent: true, Silences: 2},
		{Interface: "hb0", Source: netip.MustParseAddr("198.51.100.1"), LastAdvert: at},
	})
	if len(got) != 2 || got[0].Interface != "eth0" || !got[0].Silent || got[0].Silences != 2 ||
		got[1].Interface != "hb0" || !got[1].LastAdvert.Equal(at) || got[1].Silent || got[1].Source.String() != "198.51.100.1" {
		t.Errorf("paths %+v", got)
	}
}
