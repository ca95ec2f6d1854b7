//go:build integration && !ipvs

package integration

import (
	"testing"
	"time"
)

// TestSoakHealthVerdictJudgedWhenAsked is the regression test of the VM
// soak's "a says rs1 is down; it is up since 2.111s ago" (issue 14, seed
// 7, #97-98), which no lvsd caused: the check judged the verdict when the
// status came back, up to seconds after a served it. Judged when the
// status was asked for, a verdict of "down" 2.111 s after rs1 came back
// is no violation if the status was asked for within 1.4 s of it, and
// still one if asked for later; the same for a killed realserver still
// said up.
func TestSoakHealthVerdictJudgedWhenAsked(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(1000, 0).Add(time.Duration(ms) * time.Millisecond) }
	back, killed, healthy := at(10000), at(10000), at(0)
	for _, c := range []struct {
		name            string
		up              bool
		upSince, downAt time.Time
		asked           time.Time
		wrong           bool
	}{
		{"down, asked 1.2 s after rs1 came back (served late)", false, back, time.Time{}, at(11200), false},
		{"down, asked 1.5 s after rs1 came back", false, back, time.Time{}, at(11500), true},
		{"up, asked 1.5 s after rs1 was killed", true, time.Time{}, killed, at(11500), false},
		{"up, asked 1.6 s after rs1 was killed", true, time.Time{}, killed, at(11600), true},
		{"down, rs1 came back after the status was asked for", false, at(12000), time.Time{}, at(11500), false},
		{"right verdicts", true, back, time.Time{}, at(20000), false},
	} {
		if _, wrong := wrongVerdict(c.up, c.upSince, c.downAt, healthy, c.asked); wrong != c.wrong {
			t.Errorf("%s: wrong %v, want %v", c.name, wrong, c.wrong)
		}
	}
	// A director healthy only since after rs1 came back is judged from then.
	if _, wrong := wrongVerdict(false, back, time.Time{}, at(11000), at(12000)); wrong {
		t.Error("judged from rs1's return, not from the director's health")
	}
}
