//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// CPU stalls: spans in which the machine ran nothing, not even a thread
// at the highest realtime priority. In the VM layer one emulated CPU
// runs both directors, the realservers, the client and the watchers,
// and the emulator's own thread shares this host's two cores with
// whatever else runs here: the 200-fault run of seed 7 logged lvsd's
// realtime VRRP loop waking 910 ms late (and both daemons silent for
// 1.27 s), then a false takeover and 266 ms of two holders with no
// fault in its window. A probe that no daemon can delay (SCHED_FIFO 99,
// above lvsd's vrrp.rt_priority) tells such a stall from lvsd's own
// lateness: if even the probe woke late, the CPU was not there for
// anyone (the host descheduled the emulator, or the guest kernel ran a
// non-preemptible stretch). The timing invariants then treat a stall as
// a fault that can split the pair (as a SIGSTOP of both directors is)
// and do not count its time against lvsd; each stall is logged, and
// their count, total and longest are reported beside the faults.

// stallEnvChild makes this binary the probe (TestMain).
const stallEnvChild = "LVSD_STALL_PROBE"

const (
	stallPeriod = 5 * time.Millisecond
	// stallMin is the lateness that counts as a stall: far above a
	// realtime thread's wake-up latency, even emulated (well under 1 ms).
	stallMin = 20 * time.Millisecond
)

// stallChild sleeps stallPeriod at a time on a SCHED_FIFO 99 thread and
// prints each wake that came stallMin or more late as "from to" (Unix
// ns): the span in which the CPU ran nothing. It ends with its parent.
func stallChild() error {
	runtime.LockOSThread()
	attr := unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: 99, Flags: unix.SCHED_FLAG_RESET_ON_FORK}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return fmt.Errorf("SCHED_FIFO 99: %w", err)
	}
	ts := unix.NsecToTimespec(stallPeriod.Nanoseconds())
	for {
		before := time.Now()
		// nanosleep on this thread, not time.Sleep: Go's timers wake a
		// goroutine through the scheduler's normal-priority threads.
		_ = unix.Nanosleep(&ts, nil)
		after := time.Now()
		if due := before.Add(stallPeriod); after.Sub(due) >= stallMin {
			fmt.Printf("%d %d\n", due.UnixNano(), after.UnixNano())
		}
	}
}

// stallSpan is one stall: from when the probe was due to when it ran.
type stallSpan struct{ From, To time.Time }

// cpuStalls collects the probe's stalls.
type cpuStalls struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	spans []stallSpan
	err   error
	done  chan struct{}
}

// startStallProbe starts the probe as a child of this binary; the
// test's cleanup stops it. note, if not nil, is told of each stall.
func startStallProbe(tb testing.TB, note func(stallSpan)) *cpuStalls {
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	c := &cpuStalls{cmd: exec.Command(self), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), stallEnvChild+"=1")
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c.cmd.Stderr = os.Stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		tb.Fatalf("CPU stall probe: %v", err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var from, to int64
			if _, err := fmt.Sscanf(sc.Text(), "%d %d", &from, &to); err != nil {
				c.mu.Lock()
				c.err = fmt.Errorf("probe line %q: %w", sc.Text(), err)
				c.mu.Unlock()
				continue
			}
			span := stallSpan{time.Unix(0, from), time.Unix(0, to)}
			c.add(span)
			if note != nil {
				note(span)
			}
		}
	}()
	tb.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		<-c.done
	})
	return c
}

func (c *cpuStalls) add(s stallSpan) {
	c.mu.Lock()
	c.spans = append(c.spans, s)
	c.mu.Unlock()
}

// within returns how much of [from, to] the CPU stalled.
func (c *cpuStalls) within(from, to time.Time) time.Duration {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var d time.Duration
	for _, s := range c.spans {
		a, b := later(s.From, from), s.To
		if to.Before(b) {
			b = to
		}
		if b.After(a) {
			d += b.Sub(a)
		}
	}
	return d
}

// lastEnd returns when the latest stall of at least min ended, or the
// zero time: a stall of one advert interval or more silences both
// directors at once and can make the backup take over when they wake.
func (c *cpuStalls) lastEnd(min time.Duration) time.Time {
	if c == nil {
		return time.Time{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var last time.Time
	for _, s := range c.spans {
		if s.To.Sub(s.From) >= min && s.To.After(last) {
			last = s.To
		}
	}
	return last
}

// summary is the line the soak reports: count, total and longest, and
// how many reached min.
func (c *cpuStalls) summary(min time.Duration) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var total, longest time.Duration
	long := 0
	for _, s := range c.spans {
		d := s.To.Sub(s.From)
		total += d
		longest = max(longest, d)
		if d >= min {
			long++
		}
	}
	line := fmt.Sprintf("CPU stalls (a SCHED_FIFO 99 probe woke %v or more late): %d, %v in all, longest %v; %d of %v or more",
		stallMin, len(c.spans), total.Round(time.Millisecond), longest.Round(time.Millisecond), long, min)
	if c.err != nil {
		line += "; " + c.err.Error()
	}
	return line
}

// TestCPUStallsAccounting: within counts only the overlap of each
// stall with the span asked about, and lastEnd only stalls as long as
// asked.
func TestCPUStallsAccounting(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	c := &cpuStalls{}
	c.add(stallSpan{at(100), at(130)}) // 30 ms
	c.add(stallSpan{at(500), at(900)}) // 400 ms
	for _, tc := range []struct {
		from, to int
		want     time.Duration
	}{
		{0, 1000, 430 * time.Millisecond},
		{120, 600, 110 * time.Millisecond},
		{200, 400, 0},
		{850, 2000, 50 * time.Millisecond},
	} {
		if got := c.within(at(tc.from), at(tc.to)); got != tc.want {
			t.Errorf("within(%d, %d ms) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	if got := c.lastEnd(100 * time.Millisecond); !got.Equal(at(900)) {
		t.Errorf("lastEnd(100ms) = %v, want the 400 ms stall's end", got.Sub(t0))
	}
	if got := c.lastEnd(time.Second); !got.IsZero() {
		t.Errorf("lastEnd(1s) = %v, want none", got.Sub(t0))
	}
	var none *cpuStalls
	if none.within(at(0), at(1000)) != 0 || !none.lastEnd(0).IsZero() {
		t.Error("a nil probe (not started) must count nothing")
	}
}
