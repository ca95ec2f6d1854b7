//go:build integration

package integration

import (
	"context"
	"maps"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// soakProcs is what both soak layers know of their two lvsd processes:
// which runs, which is stopped or cut off, since when each is healthy,
// what the files say and what each daemon loaded or was told to drain,
// and each process's life for the leak check. soakLab and vsoak embed
// it; its mu also guards the fields of the layer that embeds it.
type soakProcs struct {
	mu       sync.Mutex
	proc     map[string]*netlab.Proc
	running  map[string]bool           // lvsd process up and answered once
	stopped  map[string]bool           // SIGSTOPped
	linkDown map[string]bool           // a link down, or flapping
	healthy  map[string]time.Time      // since when healthy; zero when not
	weights  map[string]int            // in the files now
	loaded   map[string]map[string]int // per director: the weights its configuration holds
	drained  map[string]bool           // per realserver, on both directors
	lives    []*procLife

	// note, when set, records what happens to the processes (the VM
	// layer's timeline, vsoak.trace); it may be called with mu held.
	note func(format string, args ...any)
}

// newSoakProcs returns the bookkeeping of a pair whose files hold weights.
func newSoakProcs(weights map[string]int) soakProcs {
	return soakProcs{proc: map[string]*netlab.Proc{}, running: map[string]bool{}, stopped: map[string]bool{},
		linkDown: map[string]bool{}, healthy: map[string]time.Time{}, weights: weights, loaded: map[string]map[string]int{},
		drained: map[string]bool{}}
}

func (p *soakProcs) notef(format string, args ...any) {
	if p.note != nil {
		p.note(format, args...)
	}
}

// started records proc as d's lvsd, up and answering: it has loaded the
// files as they are now, and its life begins.
func (p *soakProcs) started(d string, proc *netlab.Proc) {
	p.mu.Lock()
	p.proc[d], p.running[d] = proc, true
	p.loaded[d] = map[string]int{}
	maps.Copy(p.loaded[d], p.weights)
	p.lives = append(p.lives, &procLife{Director: d, Started: time.Now()})
	p.mu.Unlock()
	p.updateHealth(d)
}

// reloaded records that d's daemon took the files as they are now.
func (p *soakProcs) reloaded(d string) {
	p.mu.Lock()
	maps.Copy(p.loaded[d], p.weights)
	p.mu.Unlock()
}

// updateHealth marks d healthy (lvsd running, awake, every link up) from
// now, or not.
func (p *soakProcs) updateHealth(d string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.running[d] && !p.stopped[d] && !p.linkDown[d]
	switch {
	case h && p.healthy[d].IsZero():
		p.healthy[d] = time.Now()
		p.notef("%s healthy", d)
	case !h && !p.healthy[d].IsZero():
		p.healthy[d] = time.Time{}
		p.notef("%s not healthy", d)
	}
}

// set sets m[d] (m is running, stopped or linkDown) and d's health.
func (p *soakProcs) set(m map[string]bool, d string, v bool) {
	p.mu.Lock()
	m[d] = v
	p.mu.Unlock()
	p.updateHealth(d)
}

func (p *soakProcs) procOf(d string) *netlab.Proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc[d]
}

// signal sends sig to d's lvsd.
func (p *soakProcs) signal(d string, sig syscall.Signal) error {
	p.notef("%s: %v", d, sig)
	return p.procOf(d).Signal(sig)
}

// sample samples each running, awake lvsd of ds with metrics: the
// warm-up figure of a process without one that has run warmUp, and the
// last figure of every process.
func (p *soakProcs) sample(ds []string, metrics func(d string) (procSample, error), warmUp time.Duration) {
	for _, d := range ds {
		p.mu.Lock()
		ok := p.running[d] && !p.stopped[d]
		life := lastLife(p.lives, d)
		p.mu.Unlock()
		if !ok || life == nil {
			continue
		}
		m, err := metrics(d)
		if err != nil {
			continue
		}
		p.mu.Lock()
		life.record(m, warmUp, time.Now())
		p.mu.Unlock()
	}
}

// judgeLives logs every process's figures and holds those that ran span
// or more past warm-up to 10% (judgeLeaks).
func (p *soakProcs) judgeLives(tb testing.TB, log *soakLog, span time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	judgeLeaks(tb, log, p.lives, span)
}

// soakStatus asks the lvsd on sock for its status within limit.
func soakStatus(sock string, limit time.Duration) (api.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var st api.Status
	err := api.Call(ctx, sock, api.CmdStatus, nil, &st)
	return st, err
}
