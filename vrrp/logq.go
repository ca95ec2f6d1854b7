package vrrp

import (
	"sync"

	"github.com/sirupsen/logrus"
)

// maxLogq is how many log calls may wait; more are dropped and counted.
const maxLogq = 256

// logq runs the log calls of a Node's loop on a goroutine of its own,
// started when there is something to log and ended when the queue is
// empty, so that the loop never waits on the log's output: a logger
// writes synchronously, and stderr into a journal that falls behind
// blocks. The calls keep their order; their fields are computed on the
// loop before they are queued, so they say what was true then.
type logq struct {
	log     *logrus.Entry
	mu      sync.Mutex
	q       []func(*logrus.Entry)
	running bool
	dropped int
	idle    *sync.Cond // signalled when the queue empties (flush)
}

func newLogq(log *logrus.Entry) *logq {
	l := &logq{log: log}
	l.idle = sync.NewCond(&l.mu)
	return l
}

// do queues fn, to be called with the Node's log entry.
func (l *logq) do(fn func(*logrus.Entry)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.q) >= maxLogq {
		l.dropped++
		return
	}
	l.q = append(l.q, fn)
	if !l.running {
		l.running = true
		go l.drain()
	}
}

func (l *logq) drain() {
	l.mu.Lock()
	for len(l.q) > 0 {
		q, dropped := l.q, l.dropped
		l.q, l.dropped = nil, 0
		l.mu.Unlock()
		if dropped > 0 {
			l.log.WithField("dropped", dropped).Warn("vrrp log lines dropped: the log output fell behind")
		}
		for _, fn := range q {
			fn(l.log)
		}
		l.mu.Lock()
	}
	l.running = false
	l.idle.Broadcast()
	l.mu.Unlock()
}

// flush waits until every queued call has run: at the end of Run, so that
// its last lines are out before it returns.
func (l *logq) flush() {
	l.mu.Lock()
	for l.running {
		l.idle.Wait()
	}
	l.mu.Unlock()
}
