package healthcheck

import (
	"context"
	"sync"
)

// maxWorkers bounds the checks that run on the pool at once: every type
// but connect-only TCP (http, https, udp, dns, ping, external, and tcp
// with send or expect). It is sized for a thousand HTTP checks a second
// against servers that time out after a second.
const maxWorkers = 1024

// pool runs functions on at most max goroutines, started as needed and
// kept until ctx is done. A caller waits while all of them are busy: a
// batch is delayed rather than a check lost.
type pool struct {
	ctx   context.Context
	tasks chan func() // unbuffered: a send succeeds only into an idle worker
	wg    sync.WaitGroup

	mu  sync.Mutex
	n   int // workers started; guarded by mu
	max int

	waiting func() // if set, called when run is about to wait (tests)
}

func newPool(ctx context.Context, max int) *pool {
	return &pool{ctx: ctx, tasks: make(chan func()), max: max}
}

// run hands f to an idle worker, or to a new one while there are fewer
// than max, or waits for one to be free. It reports false, without
// running f, once ctx is done.
func (p *pool) run(f func()) bool {
	select {
	case p.tasks <- f:
		return true
	default:
	}
	p.mu.Lock()
	if p.n < p.max {
		p.n++
		p.wg.Add(1)
		p.mu.Unlock()
		go p.worker(f)
		return true
	}
	p.mu.Unlock()
	if p.waiting != nil {
		p.waiting()
	}
	select {
	case p.tasks <- f:
		return true
	case <-p.ctx.Done():
		return false
	}
}

func (p *pool) worker(f func()) {
	defer p.wg.Done()
	for {
		f()
		select {
		case f = <-p.tasks:
		case <-p.ctx.Done():
			return
		}
	}
}

// wait returns when every worker has ended, after ctx is done.
func (p *pool) wait() { p.wg.Wait() }
