// Package probe measures what a client sees: it calls a probe at a fixed
// rate from a few workers and keeps every outcome, and reads outages off
// the samples afterwards. `lvsd drill` and the demo use it.
package probe

import (
	"net"
	"sort"
	"sync"
	"time"
)

// Sample is one probe: when it was due, whether it succeeded, what it
// returned (for an HTTP probe, the body: which realserver answered) and
// how long it took.
type Sample struct {
	At   time.Time
	OK   bool
	Body string
	Took time.Duration
}

// Prober runs a probe at a fixed rate.
type Prober struct {
	mu      sync.Mutex
	samples []Sample
	stop    chan struct{}
	done    chan error
}

// Spawn runs a worker; the demo runs each in a network namespace.
type Spawn func(worker func() error) <-chan error

// Go runs a worker on a plain goroutine.
func Go(worker func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- worker() }()
	return done
}

// Start calls probe every interval from workers workers started with
// spawn, so one slow probe does not hold back the next; a tick that finds
// every worker busy is skipped.
func Start(interval time.Duration, workers int, spawn Spawn, probe func() (string, error)) *Prober {
	p := &Prober{stop: make(chan struct{}), done: make(chan error, 1)}
	ticks := make(chan time.Time)
	var dones []<-chan error
	for i := 0; i < workers; i++ {
		dones = append(dones, spawn(func() error {
			for at := range ticks {
				p.record(at, probe)
			}
			return nil
		}))
	}
	go p.tick(interval, ticks, dones)
	return p
}

// record calls probe once for the tick due at and keeps the outcome.
func (p *Prober) record(at time.Time, probe func() (string, error)) {
	start := time.Now()
	body, err := probe()
	took := time.Since(start)
	p.mu.Lock()
	p.samples = append(p.samples, Sample{At: at, OK: err == nil, Body: body, Took: took})
	p.mu.Unlock()
}

// StartEach calls probe every interval, each call on a worker of its own
// started with spawn, with at most limit calls in flight. Unlike Start, a
// stall does not hide the ticks behind it: while connections hang for a
// second (a VIP moving, a SYN retransmitted), new ones keep being tried,
// as real clients keep arriving; only beyond limit is a tick skipped.
func StartEach(interval time.Duration, limit int, spawn Spawn, probe func() (string, error)) *Prober {
	p := &Prober{stop: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		slots := make(chan struct{}, limit)
		var wg sync.WaitGroup
		for {
			select {
			case <-p.stop:
				wg.Wait()
				p.done <- nil
				return
			case at := <-t.C:
				select {
				case slots <- struct{}{}:
				default:
					continue // limit calls in flight
				}
				wg.Add(1)
				done := spawn(func() error { p.record(at, probe); return nil })
				go func() {
					defer wg.Done()
					<-done
					<-slots
				}()
			}
		}
	}()
	return p
}

func (p *Prober) tick(interval time.Duration, ticks chan<- time.Time, dones []<-chan error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			close(ticks)
			var err error
			for _, d := range dones {
				if e := <-d; e != nil && err == nil {
					err = e
				}
			}
			p.done <- err
			return
		case now := <-t.C:
			select {
			case ticks <- now:
			default:
			}
		}
	}
}

// Stop ends the probing and returns every sample, in time order.
func (p *Prober) Stop() ([]Sample, error) {
	close(p.stop)
	err := <-p.done
	return p.Samples(), err
}

// Samples returns the samples so far, in time order.
func (p *Prober) Samples() []Sample {
	p.mu.Lock()
	out := append([]Sample(nil), p.samples...)
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Window is what the client saw between two moments.
type Window struct {
	OK, Failed int
	// Outage is the longest gap between two good samples that has failures
	// in it: from the last good one before to the first good one after,
	// an upper bound on what the client lost.
	Outage time.Duration
	// Slow counts the good samples that took longer than Measure's slow;
	// Slowest is the longest good one. A connection that needed a TCP
	// retransmission (a VIP moving under it) succeeds late, not never.
	Slow    int
	Slowest time.Duration
}

// Measure reads the window [from, to) off time-ordered samples; a good
// sample slower than slow counts in Window.Slow (0: none does) and, like a
// failed one, in the outage: the client waited.
func Measure(samples []Sample, from, to time.Time, slow time.Duration) Window {
	var w Window
	var lastGood time.Time
	bad := false
	for _, s := range samples {
		if !s.At.Before(to) {
			break
		}
		inside := !s.At.Before(from)
		late := s.OK && slow > 0 && s.Took > slow
		if inside {
			switch {
			case !s.OK:
				w.Failed++
			case late:
				w.OK++
				w.Slow++
			default:
				w.OK++
			}
			if s.OK {
				w.Slowest = max(w.Slowest, s.Took)
			}
		}
		if !s.OK || late {
			bad = bad || inside
			continue
		}
		if inside && bad && !lastGood.IsZero() {
			w.Outage = max(w.Outage, s.At.Sub(lastGood))
		}
		lastGood, bad = s.At, false
	}
	if bad && !lastGood.IsZero() {
		w.Outage = max(w.Outage, to.Sub(lastGood))
	}
	return w
}

// TCPConnect is a probe that opens and closes a TCP connection.
func TCPConnect(addr string, timeout time.Duration) func() (string, error) {
	return func() (string, error) {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return "", err
		}
		return "", c.Close()
	}
}

// Failures counts the failed samples at or after from, and all of them.
func Failures(samples []Sample, from time.Time) (failed, total int) {
	for _, s := range samples {
		if s.At.Before(from) {
			continue
		}
		total++
		if !s.OK {
			failed++
		}
	}
	return failed, total
}
