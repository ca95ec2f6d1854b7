package vrrp

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// logBuf is a log output tests read.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *logBuf) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// lines returns the logged lines that contain msg, once the node's log
// queue has written everything.
func (o *logBuf) lines(h *harness, msg string) []string {
	h.n.logq.flush()
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, line := range strings.Split(o.b.String(), "\n") {
		if strings.Contains(line, msg) {
			out = append(out, line)
		}
	}
	return out
}

func newLogHarness(t *testing.T, cfg InstanceConfig) (*harness, *logBuf) {
	t.Helper()
	out := &logBuf{}
	logger := logrus.New()
	logger.SetOutput(out)
	return newHarnessDeps(t, cfg, Deps{Log: logrus.NewEntry(logger)}), out
}

// TestNodeTakeoverEvidence checks that a backup's takeover on its
// Master_Down_Timer logs how late the timer fired and how long before it
// the last advert reached the loop and its reader, and that a takeover
// that did not come from the timer says none of it.
func TestNodeTakeoverEvidence(t *testing.T) {
	h, out := newLogHarness(t, nodeConfig())
	h.run()
	h.recvAdvert(200, peerHigh)
	heard := h.clk.Now()
	due := h.next
	h.clk.set(due.Add(5 * time.Millisecond)) // the timer fires 5ms late
	h.waitIdle()
	if s := h.n.Status(); s.State != Master {
		t.Fatalf("state %v, want MASTER", s.State)
	}
	lines := out.lines(h, "from=BACKUP")
	if len(lines) != 1 {
		t.Fatalf("takeover lines: %q, want 1", lines)
	}
	ago := due.Add(5 * time.Millisecond).Sub(heard).Round(10 * time.Microsecond).String()
	for _, want := range []string{"timer_late=5ms", "heard_ago=" + ago, "read_ago=" + ago} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("takeover line %q: no %s", lines[0], want)
		}
	}
	h.recvAdvert(200, peerHigh) // steps down: no evidence on that line
	if lines := out.lines(h, "from=MASTER"); len(lines) != 1 || strings.Contains(lines[0], "heard_ago") {
		t.Errorf("step-down lines: %q, want 1 without evidence", lines)
	}
}

// TestNodeLateAdvertWarns checks that a master whose timed advert goes
// out more than an interval late says so, with how late it woke, at most
// once a second, and says nothing of an advert late by less.
func TestNodeLateAdvertWarns(t *testing.T) {
	cfg := nodeConfig()
	cfg.Announce.Repeat = 1 // no announcement deadlines among the adverts
	h, out := newLogHarness(t, cfg)
	h.run()
	h.advance(time.Second) // takes over
	const msg = "advert sent more than an interval late"
	for i, late := range []time.Duration{150 * time.Millisecond, 90 * time.Millisecond, 120 * time.Millisecond} {
		h.clk.set(h.next.Add(late))
		h.waitIdle()
		if n := len(out.lines(h, msg)); n != 1 {
			t.Fatalf("after advert %d (%v late): %d warnings, want 1 (the first)", i, late, n)
		}
	}
	line := out.lines(h, msg)[0]
	for _, want := range []string{"late=150ms", "woke_late=150ms", "busy=0s"} {
		if !strings.Contains(line, want) {
			t.Errorf("warning %q: no %s", line, want)
		}
	}
	if strings.Contains(line, "wait_late") { // the loop waited from before the due time
		t.Errorf("warning %q: wait_late for a loop that began its wait in time", line)
	}
	h.advance(time.Second)
	h.clk.set(h.next.Add(110 * time.Millisecond))
	h.waitIdle()
	if n := len(out.lines(h, msg)); n != 2 {
		t.Errorf("a second later, after an advert 110ms late: %d warnings, want 2", n)
	}
}
