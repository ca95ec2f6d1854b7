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

// Sample is one probe: when it was due, whether it succeeded, and what it
// returned (for an HTTP probe, the body: which realserver answered).
type Sample struct {
	At   time.Time
	OK   bool
	Body string
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
				body, err := probe()
				p.mu.Lock()
				p.samples = append(p.samples, Sample{At: at, OK: err == nil, Body: body})
				p.mu.Unlock()
			}
			return nil
		}))
	}
	go p.tick(interval, ticks, dones)
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
}

// Measure reads the window [from, to) off time-ordered samples.
func Measure(samples []Sample, from, to time.Time) Window {
	var w Window
	var lastOK time.Time
	failing := false
	for _, s := range samples {
		if !s.At.Before(to) {
			break
		}
		inside := !s.At.Before(from)
		if !s.OK {
			if inside {
				w.Failed++
				failing = true
			}
			continue
		}
		if inside {
			w.OK++
			if failing && !lastOK.IsZero() {
				w.Outage = max(w.Outage, s.At.Sub(lastOK))
			}
		}
		lastOK, failing = s.At, false
	}
	if failing && !lastOK.IsZero() {
		w.Outage = max(w.Outage, to.Sub(lastOK))
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
