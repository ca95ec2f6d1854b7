//go:build integration

package integration

import "time"

// The VM soak's health check, its pure part: a director's verdict on a
// realserver must follow the realserver's truth within what the checks
// need (rise or fall 2 at a 200 ms interval, a 150 ms timeout) and 1 s.

// Judged when the status was asked for, not when it came back: the
// daemon served it at that instant or later, and a status of 500
// realservers takes 0.7 s on average under emulation, up to 5 s, so a
// verdict judged on its return was charged for up to that much time it
// could not have seen. The 200-fault run (seed 7, #97-98) reported "a
// says rs1 is down; it is up since 2.111s ago" against a bound of 1.4 s.

const (
	vsoakDownBound = 2*200*time.Millisecond + 150*time.Millisecond + time.Second // killed, still up
	vsoakUpBound   = 2*200*time.Millisecond + time.Second                        // back, still down
)

// wrongVerdict judges a verdict (up) from a status asked for at asked,
// against the realserver's truth: up since upSince, or killed at downAt
// (upSince zero). Its director was healthy since healthySince. It returns
// how long the truth had held when the status was asked for, and whether
// the verdict was wrong for longer than its bound by then.
func wrongVerdict(up bool, upSince, downAt, healthySince, asked time.Time) (time.Duration, bool) {
	switch {
	case upSince.IsZero() && up:
		return asked.Sub(downAt), asked.Sub(later(downAt, healthySince)) > vsoakDownBound
	case !upSince.IsZero() && !up:
		return asked.Sub(upSince), asked.Sub(later(upSince, healthySince)) > vsoakUpBound
	}
	return 0, false
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
