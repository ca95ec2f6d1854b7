package notify

import (
	"strings"
	"testing"
	"time"
)

// A summary gives the last state of each instance and realserver (VRRP
// first, then by name), then the changes in order, counting those beyond
// maxListed.
func TestDigestBody(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	d := newDigest(at)
	d.add(Event{Kind: "realserver", Node: "a", Service: "web", Real: "198.51.100.12:80", State: "down", Reason: "connection refused", At: at})
	d.add(Event{Kind: "vrrp", Node: "a", Instance: "front", VRID: 10, From: "BACKUP", State: "MASTER", Priority: 150, At: at})
	for i := range maxListed {
		d.add(Event{Kind: "realserver", Node: "a", Service: "web", Real: "198.51.100.11:80", State: []string{"down", "up"}[i%2],
			At: at.Add(time.Second)})
	}
	want := `lvsd on a: 52 changes from 2025-01-02T03:04:05Z to 2025-01-02T03:04:06Z.

Now:
  vrrp front (VRID 10): MASTER, priority 150
  realserver web 198.51.100.11:80: up
  realserver web 198.51.100.12:80: down

Changes:
  03:04:05.000  realserver web 198.51.100.12:80 down: connection refused
  03:04:05.000  vrrp front BACKUP -> MASTER (priority 150)
  03:04:06.000  realserver web 198.51.100.11:80 down
`
	got := d.body()
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "  ... and 2 more (the daemon's log has them all)\n") {
		t.Errorf("body:\n%s\nwant it to start:\n%s", got, want)
	}
	if s := d.subject("[lvsd]"); s != "[lvsd] a: 1 VRRP transition, 51 realserver changes" {
		t.Errorf("subject %q", s)
	}
}
