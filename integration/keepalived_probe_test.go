//go:build integration && !ipvs

package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

// kbenchProbe is the client of the failover benchmark: every period it
// starts one TCP probe of the VIP (connect, read the responder's line)
// that must finish within timeout. Probes run on a pool of workers, each
// on its own thread in the client's namespace, so a probe that hangs
// until its timeout never delays the next one: every period is one
// sample of "would a new client connection work now".
type kbenchProbe struct {
	period, timeout time.Duration
	jobs            chan time.Time
	stopc           chan struct{}
	wg              sync.WaitGroup

	mu      sync.Mutex
	results []kbenchSample
}

// kbenchSample is one probe: when it started, and who answered ("" if
// it failed).
type kbenchSample struct {
	at  time.Time
	who string
	err string // why it failed
}

// kbenchWorkers bounds the probes in flight; with timeout <= 2 periods
// at most three are.
const kbenchWorkers = 8

// startProbe starts probing the VIP from the client.
func (l *kadLab) startProbe(period, timeout time.Duration) *kbenchProbe {
	l.TB.Helper()
	p := &kbenchProbe{period: period, timeout: timeout,
		jobs: make(chan time.Time, kbenchWorkers), stopc: make(chan struct{})}
	addr := net.JoinHostPort(kadVIP, fmt.Sprint(kadPort))
	started := make(chan struct{}, kbenchWorkers)
	for range kbenchWorkers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			err := <-l.Go(l.ns["c"], func() error {
				started <- struct{}{}
				for at := range p.jobs {
					who, err := kadProbeOnce(addr, p.timeout)
					smp := kbenchSample{at: at, who: who}
					if err != nil {
						smp.who, smp.err = "", kbenchErrKind(err)
					}
					p.record(smp)
				}
				return nil
			})
			if err != nil {
				l.TB.Errorf("probe worker: %v", err)
			}
		}()
	}
	for range kbenchWorkers {
		<-started
	}
	go func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		defer close(p.jobs)
		for {
			select {
			case <-p.stopc:
				return
			case at := <-tick.C:
				select {
				case p.jobs <- at:
				default: // every worker busy: this sample is a failure
					p.record(kbenchSample{at: at, err: "no free worker"})
				}
			}
		}
	}()
	return p
}

func (p *kbenchProbe) record(s kbenchSample) {
	p.mu.Lock()
	p.results = append(p.results, s)
	p.mu.Unlock()
}

// stop stops probing and waits for the probes in flight.
func (p *kbenchProbe) stop() {
	close(p.stopc)
	p.wg.Wait()
}

// last returns who answered the latest finished probe ("" for a failure).
func (p *kbenchProbe) last() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.results) == 0 {
		return ""
	}
	return p.results[len(p.results)-1].who
}

// kbenchTally sums up the probes that started in a time range.
type kbenchTally struct {
	sent, failed int
	// span runs from the start of the first failed probe to the end of
	// the period of the last one: the outage as one stretch.
	span time.Duration
	// answered counts the successful probes by director, errs the failed
	// ones by kind of error.
	answered, errs map[string]int
	// strays are the failures outside the longest stretch of consecutive
	// failures, as offsets from the start of the range.
	strays []time.Duration
	// open means the last probe of the range failed: the outage lasted
	// at least until the end of the range.
	open bool
}

// tally counts the probes that started in [from, to).
func (p *kbenchProbe) tally(from, to time.Time) kbenchTally {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := kbenchTally{answered: map[string]int{}, errs: map[string]int{}}
	var in []kbenchSample
	for _, s := range p.results {
		if !s.at.Before(from) && s.at.Before(to) {
			in = append(in, s)
		}
	}
	slices.SortFunc(in, func(a, b kbenchSample) int { return a.at.Compare(b.at) })
	var first, last time.Time
	bestStart, bestLen, runStart, runLen := -1, 0, -1, 0
	for i, s := range in {
		t.sent++
		if s.who != "" {
			t.answered[s.who]++
			runLen = 0
			continue
		}
		t.failed++
		t.errs[s.err]++
		if first.IsZero() {
			first = s.at
		}
		last = s.at
		if runLen == 0 {
			runStart = i
		}
		runLen++
		if runLen > bestLen {
			bestStart, bestLen = runStart, runLen
		}
	}
	if t.failed > 0 {
		t.span = last.Sub(first) + p.period
		t.open = in[len(in)-1].who == ""
	}
	for i, s := range in {
		if s.who == "" && (i < bestStart || i >= bestStart+bestLen) {
			t.strays = append(t.strays, s.at.Sub(from).Round(time.Millisecond))
		}
	}
	return t
}

// failedAt returns when the failed probes of [from, to) started, as
// offsets from origin.
func (p *kbenchProbe) failedAt(from, to, origin time.Time) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Duration
	for _, s := range p.results {
		if s.who == "" && !s.at.Before(from) && s.at.Before(to) {
			out = append(out, s.at.Sub(origin).Round(time.Millisecond))
		}
	}
	slices.Sort(out)
	return out
}

// kbenchErrKind names a probe's failure briefly.
func kbenchErrKind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	return err.Error()
}

// kbenchSniffer records the VRRP advertisements the client sees (it
// joins 224.0.0.18 on e0), so that the benchmark can act just after a
// given director advertised, and tell afterwards who spoke first.
type kbenchSniffer struct {
	vrid int
	mu   sync.Mutex
	seen []kbenchAdvert
	news chan struct{} // closed, and replaced, at every advert
}

// kbenchAdvert is one advertisement seen by the client.
type kbenchAdvert struct {
	at   time.Time
	from string // source address
	prio int
	vrid int
}

// startSniffer starts recording adverts in the client's namespace until
// the end of the test or benchmark.
func (l *kadLab) startSniffer() *kbenchSniffer {
	l.TB.Helper()
	s := &kbenchSniffer{news: make(chan struct{})}
	ready := make(chan net.PacketConn, 1)
	go func() {
		_ = <-l.Go(l.ns["c"], func() error {
			c, err := net.ListenPacket("ip4:112", "0.0.0.0")
			if err != nil {
				ready <- nil
				return err
			}
			ifi, err := net.InterfaceByName("e0")
			if err == nil {
				err = ipv4.NewPacketConn(c).JoinGroup(ifi, &net.IPAddr{IP: net.IPv4(224, 0, 0, 18)})
			}
			if err != nil {
				c.Close()
				ready <- nil
				return err
			}
			ready <- c
			buf := make([]byte, 1500)
			for {
				n, from, err := c.ReadFrom(buf) // the IPv4 header is stripped
				if err != nil {
					return nil
				}
				if n >= 8 {
					s.add(kbenchAdvert{at: time.Now(), from: from.(*net.IPAddr).IP.String(), prio: int(buf[2]), vrid: int(buf[1])})
				}
			}
		})
	}()
	c := <-ready
	if c == nil {
		l.TB.Fatal("vrrp sniffer in the client: cannot open a raw socket for protocol 112")
	}
	l.TB.Cleanup(func() { c.Close() })
	return s
}

func (s *kbenchSniffer) add(a kbenchAdvert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) > 20000 {
		s.seen = append(s.seen[:0], s.seen[10000:]...)
	}
	s.seen = append(s.seen, a)
	close(s.news)
	s.news = make(chan struct{})
}

// next waits (at most timeout) for an advert of priority > 0 from addr
// with our VRID, seen after since.
func (s *kbenchSniffer) next(vrid int, addr string, since time.Time, timeout time.Duration) (kbenchAdvert, bool) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		for _, a := range s.seen {
			if a.at.After(since) && a.from == addr && a.vrid == vrid && a.prio > 0 {
				s.mu.Unlock()
				return a, true
			}
		}
		news := s.news
		s.mu.Unlock()
		select {
		case <-news:
		case <-deadline:
			return kbenchAdvert{}, false
		}
	}
}

// first returns the first advert with our VRID seen after since.
func (s *kbenchSniffer) first(vrid int, since time.Time) (kbenchAdvert, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.seen {
		if a.at.After(since) && a.vrid == vrid {
			return a, true
		}
	}
	return kbenchAdvert{}, false
}
