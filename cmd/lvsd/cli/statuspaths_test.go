package cli

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

func TestPrintPaths(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var b strings.Builder
	printPaths(&b, now, []api.HeartbeatPath{
		{Interface: "e0", Source: netip.MustParseAddr("192.0.2.1"), LastAdvert: now.Add(-3 * time.Second), Silent: true, Silences: 2},
		{Interface: "hb0", Source: netip.MustParseAddr("198.51.100.1"), LastAdvert: now.Add(-100 * time.Millisecond)},
	})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("printed %q, want one line per path", b.String())
	}
	for i, want := range [][]string{{"path e0", "192.0.2.1", "3s ago SILENT", "2 silences"},
		{"path hb0", "198.51.100.1", "100ms ago", "0 silences"}} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %q lacks %q", lines[i], w)
			}
		}
	}
	if strings.Contains(lines[1], "SILENT") {
		t.Errorf("hb0 printed silent: %q", lines[1])
	}
}
