package healthcheck

import "sync"

// eventQueue delivers events to a callback from one goroutine, in the
// order they were pushed. Push never blocks: the queue grows instead, so
// a slow callback cannot hold up checks.
type eventQueue struct {
	fn   func(Event)
	mu   sync.Mutex
	q    []Event
	wake chan struct{} // capacity 1: "the queue may be non-empty"
	quit chan struct{}
	done chan struct{}
}

func newEventQueue(fn func(Event)) *eventQueue {
	q := &eventQueue{fn: fn, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go q.loop()
	return q
}

// push queues ev for delivery.
func (q *eventQueue) push(ev Event) {
	q.mu.Lock()
	q.q = append(q.q, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) loop() {
	defer close(q.done)
	for {
		select {
		case <-q.wake:
			q.drain()
		case <-q.quit:
			q.drain()
			return
		}
	}
}

// drain delivers everything queued, batch by batch.
func (q *eventQueue) drain() {
	for {
		q.mu.Lock()
		batch := q.q
		q.q = nil
		q.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, ev := range batch {
			q.fn(ev)
		}
	}
}

// close delivers what is queued and stops the goroutine. Events pushed
// after it are never delivered.
func (q *eventQueue) close() {
	close(q.quit)
	<-q.done
}
