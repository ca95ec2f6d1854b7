package netlab

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// HTTPGet makes one HTTP/1.0 GET over a new connection and returns the
// body. It dials on the calling goroutine, so from a GoIn function the
// connection starts in that namespace (http.Transport would dial on a
// goroutine of its own, on a thread in another namespace).
func HTTPGet(addr string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: lab\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return strings.TrimSpace(string(body)), err
}

// Sample is one probe: when it started, whether it succeeded, and which
// realserver answered (the body).
type Sample struct {
	At   time.Time
	OK   bool
	Body string
}

// Prober requests a URL from a namespace at a fixed rate and keeps every
// sample, so that outages can be read off afterwards.
type Prober struct {
	mu      sync.Mutex
	samples []Sample
	stop    chan struct{}
	done    <-chan error
}

// Probe starts probing addr from ns every interval, each request bounded
// by timeout. Workers locked in ns take the ticks, so one slow request does
// not hold back the next; a tick that finds every worker busy is skipped.
func (l *Lab) Probe(ns, addr string, interval, timeout time.Duration, workers int) *Prober {
	p := &Prober{stop: make(chan struct{})}
	ticks := make(chan time.Time)
	var dones []<-chan error
	for i := 0; i < workers; i++ {
		dones = append(dones, l.GoIn(ns, func() error {
			for at := range ticks {
				body, err := HTTPGet(addr, timeout)
				p.mu.Lock()
				p.samples = append(p.samples, Sample{At: at, OK: err == nil, Body: body})
				p.mu.Unlock()
			}
			return nil
		}))
	}
	done := make(chan error, 1)
	p.done = done
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
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
				done <- err
				return
			case now := <-tick.C:
				select {
				case ticks <- now:
				default:
				}
			}
		}
	}()
	return p
}

// Stop ends the probing and returns every sample, in time order.
func (p *Prober) Stop() ([]Sample, error) {
	close(p.stop)
	err := <-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	sort.Slice(p.samples, func(i, j int) bool { return p.samples[i].At.Before(p.samples[j].At) })
	return p.samples, err
}

// Samples returns the samples so far.
func (p *Prober) Samples() []Sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Sample(nil), p.samples...)
}
