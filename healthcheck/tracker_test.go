package healthcheck

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// step is a transition seen in a run of results, which the table writes
// as '+' for a success and '-' for a failure.
type step struct {
	at    int // index of the result that changed the state
	to    State
	succ  int
	fails int
}

func TestTrackerPaths(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		initialUp  bool
		results    string
		want       []step
		final      State
	}{
		{"initial up stays up", 2, 2, true, "+++", nil, Up},
		{"initial down stays down", 2, 2, false, "---", nil, Down},
		{"initial down, one success is not enough", 2, 2, false, "+", nil, Down},
		{"initial up, one failure is not enough", 2, 2, true, "-", nil, Up},
		{"fall 1", 1, 1, true, "-", []step{{0, Down, 0, 1}}, Down},
		{"rise 1", 1, 1, false, "+", []step{{0, Up, 1, 0}}, Up},
		{"fall 3", 2, 3, true, "---", []step{{2, Down, 0, 3}}, Down},
		{"rise 3", 3, 2, false, "+++", []step{{2, Up, 3, 0}}, Up},
		{"more failures after down change nothing", 2, 2, true, "-----", []step{{1, Down, 0, 2}}, Down},
		{"more successes after up change nothing", 2, 2, false, "+++++", []step{{1, Up, 2, 0}}, Up},
		{"success resets failures", 2, 2, true, "-+-+-+", nil, Up},
		{"failure resets successes", 2, 2, false, "+-+-+-", nil, Down},
		{"down then up", 2, 2, true, "--++", []step{{1, Down, 0, 2}, {3, Up, 2, 0}}, Up},
		{"flapping with rise and fall 1", 1, 1, true, "-+-+", []step{{0, Down, 0, 1}, {1, Up, 1, 0}, {2, Down, 0, 1}, {3, Up, 1, 0}}, Up},
		{"interleaved then settles", 3, 2, true, "-+--+-+++", []step{{3, Down, 0, 2}, {8, Up, 3, 0}}, Up},
		{"successes before the fall do not count for the rise", 2, 2, true, "++--+", []step{{3, Down, 0, 2}}, Down},
		{"zero rise and fall mean 1", 0, 0, true, "-+", []step{{0, Down, 0, 1}, {1, Up, 1, 0}}, Up},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(tt.rise, tt.fall, tt.initialUp)
			var got []step
			for i, c := range tt.results {
				var err error
				if c == '-' {
					err = fail(ReasonRefused, "connect 192.0.2.1:80: refused")
				}
				now := t0.Add(time.Duration(i) * time.Second)
				changed, trn := tr.Observe(now, err)
				if !changed {
					if trn != (Transition{}) {
						t.Errorf("result %d: no change but transition %+v", i, trn)
					}
					continue
				}
				if trn.At != now || trn.From == trn.To {
					t.Errorf("result %d: transition %+v at %v", i, trn, now)
				}
				got = append(got, step{i, trn.To, trn.Successes, trn.Failures})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("transitions %v, want %v", got, tt.want)
			}
			if tr.State() != tt.final {
				t.Errorf("final state %v, want %v", tr.State(), tt.final)
			}
		})
	}
}

func TestTrackerTransitionReason(t *testing.T) {
	tr := NewTracker(2, 2, true)
	tr.Observe(t0, errors.New("plain"))
	_, down := tr.Observe(t0.Add(time.Second), fail(ReasonStatus, "http status 503, want [200]"))
	if down.Reason != ReasonStatus || down.Detail != "http status 503, want [200]" || down.From != Up || down.To != Down {
		t.Errorf("down transition %+v", down)
	}
	tr.Observe(t0.Add(2*time.Second), nil)
	_, up := tr.Observe(t0.Add(3*time.Second), nil)
	if up.Reason != "" || !strings.Contains(up.Detail, "2 consecutive successes") || up.To != Up {
		t.Errorf("up transition %+v", up)
	}
}

func TestTrackerStats(t *testing.T) {
	tr := NewTracker(2, 3, true)
	if st := tr.Stats(); st.Checks != 0 || !st.LastCheck.IsZero() || st.State != Up {
		t.Fatalf("fresh stats %+v", st)
	}
	tr.Observe(t0, errors.New("boom"))
	tr.Observe(t0.Add(time.Second), fail(ReasonTimeout, "connect 192.0.2.1:80: timeout after 1s"))
	st := tr.Stats()
	want := Stats{State: Up, Failures: 2, Checks: 2, LastCheck: t0.Add(time.Second),
		LastReason: ReasonTimeout, LastDetail: "connect 192.0.2.1:80: timeout after 1s"}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	tr.Observe(t0.Add(2*time.Second), nil)
	if st := tr.Stats(); st.LastReason != "" || st.LastDetail != "" || st.Successes != 1 || st.Failures != 0 {
		t.Errorf("after success %+v", st)
	}
	if Up.String() != "up" || Down.String() != "down" {
		t.Errorf("State strings %q %q", Up, Down)
	}
}
