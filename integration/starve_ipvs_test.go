//go:build integration && ipvs

package integration

import (
	"fmt"
	"os"
	osexec "os/exec"
	"runtime"
	"sync"
	"testing"
	"time"
)

// starveWatch records when the test process could not run. A thread of
// its own, at the normal priority of the probes' threads, wakes every
// millisecond and notes each gap of starveGap or more between two wakes.
//
// Why: the VM has one emulated CPU, on which a process start (a
// director's took about 460 ms to its first log line) or a long read in
// the kernel (a restarted director's first sweep of 1,600 connections,
// 250-490 ms) runs little else. A probe's client then reads its reply
// late, and its own retransmission timer can fire first: when softirqs
// are deferred to ksoftirqd, the timer softirq runs before NET_RX, so the
// timer expires while the ACK that would have stopped it waits beside it.
// TCP_INFO counts that as a retransmission that no lost packet made; the
// captures of such a failure showed every packet on time and the client
// sending its FIN 283 ms after the reply had arrived.
type starveWatch struct {
	mu      sync.Mutex
	gaps    []stallSpan   // as the soak's CPU stall probe records its stalls
	longest time.Duration // of every gap, recorded or not
	stop    chan struct{}
	done    chan struct{}
}

const (
	// starveGap is the shortest gap recorded.
	starveGap = 100 * time.Millisecond
	// starveExcuse is the shortest gap that explains a retransmission:
	// most of the 200 ms a data segment's first retransmission waits.
	starveExcuse = 150 * time.Millisecond
)

func startStarveWatch() *starveWatch {
	w := &starveWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		defer close(w.done)
		last := time.Now()
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			time.Sleep(time.Millisecond)
			now := time.Now()
			w.mu.Lock()
			w.longest = max(w.longest, now.Sub(last))
			if now.Sub(last) >= starveGap {
				w.gaps = append(w.gaps, stallSpan{last, now})
			}
			w.mu.Unlock()
			last = now
		}
	}()
	return w
}

func (w *starveWatch) Stop() {
	close(w.stop)
	<-w.done
}

// String sums the gaps up for the test's log.
func (w *starveWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d gaps of %v or more in which the test process did not run; the longest gap %v",
		len(w.gaps), starveGap, w.longest.Round(time.Millisecond))
}

// starved returns the longest gap of starveExcuse or more that overlaps
// [from, to], or 0.
func (w *starveWatch) starved(from, to time.Time) time.Duration {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var longest time.Duration
	for _, g := range w.gaps {
		if d := g.To.Sub(g.From); d >= starveExcuse && g.From.Before(to) && g.To.After(from) {
			longest = max(longest, d)
		}
	}
	return longest
}

// TestStarveWatchExcusesOnlyOverlappingLongGaps: a retransmitted probe is
// excused by a gap of starveExcuse or more during it, not by a shorter
// one nor by one before or after it; and the watch records a gap that a
// blocked thread makes.
func TestStarveWatchExcusesOnlyOverlappingLongGaps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	w := &starveWatch{gaps: []stallSpan{{ms(0), ms(120)}, {ms(500), ms(800)}, {ms(2000), ms(2160)}}}
	for _, c := range []struct {
		from, to int
		want     time.Duration
	}{
		{0, 300, 0},                          // only the 120 ms gap
		{400, 600, 300 * time.Millisecond},   // overlaps the 300 ms one
		{790, 1000, 300 * time.Millisecond},  // its end
		{800, 1900, 0},                       // after it, before the next
		{1900, 2500, 160 * time.Millisecond}, // the 160 ms one
	} {
		if got := w.starved(ms(c.from), ms(c.to)); got != c.want {
			t.Errorf("probe %d-%d ms: %v, want %v", c.from, c.to, got, c.want)
		}
	}
	var none *starveWatch
	if none.starved(ms(0), ms(3000)) != 0 {
		t.Error("no watch excused a probe")
	}
	// A real gap: a shell stops this process (SIGSTOP) and lets it go on
	// 250 ms later.
	live := startStarveWatch()
	time.Sleep(20 * time.Millisecond)
	stop := fmt.Sprintf("kill -STOP %d; sleep 0.25; kill -CONT %d", os.Getpid(), os.Getpid())
	if out, err := osexec.Command("sh", "-c", stop).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", stop, err, out)
	}
	time.Sleep(20 * time.Millisecond)
	live.Stop()
	if got := live.starved(time.Now().Add(-time.Second), time.Now()); got < 250*time.Millisecond {
		t.Errorf("the process stopped for 250 ms, the watch's longest gap %v (%v)", got, live)
	}
}
