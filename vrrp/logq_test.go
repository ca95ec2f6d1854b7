package vrrp

import (
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
)

// blockedOut is a log output that takes nothing until opened, like a
// journal that fell behind, then keeps what it is given.
type blockedOut struct {
	open chan struct{}
	mu   sync.Mutex
	text strings.Builder
}

func (o *blockedOut) Write(p []byte) (int, error) {
	<-o.open
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.text.Write(p)
}

// TestNodeLogDoesNotBlock checks that a node whose log output blocks
// still runs: it starts and takes over while nothing can be written,
// and its lines come out afterwards, in order.
func TestNodeLogDoesNotBlock(t *testing.T) {
	out := &blockedOut{open: make(chan struct{})}
	logger := logrus.New()
	logger.SetOutput(out)
	h := newHarnessDeps(t, nodeConfig(), Deps{Log: logrus.NewEntry(logger)})
	h.run()                     // became BACKUP: a line waits
	h.advance(mdi100)           // takes over: another
	h.recvAdvert(200, peerHigh) // steps down: a third
	if s := h.n.Status(); s.Counters.Transitions != 3 {
		t.Fatalf("%d transitions with the log blocked, want 3", s.Counters.Transitions)
	}
	close(out.open)
	h.stop()
	h.n.logq.flush()
	out.mu.Lock()
	text := out.text.String()
	out.mu.Unlock()
	var states []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "vrrp state change") {
			_, state, _ := strings.Cut(line, " state=")
			states = append(states, strings.Fields(state)[0])
		}
	}
	if got := strings.Join(states, " "); got != "BACKUP MASTER BACKUP INIT" {
		t.Errorf("state changes logged: %q, want BACKUP MASTER BACKUP INIT (the stop)\n%s", got, text)
	}
}
