package notify

import (
	"context"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"
)

// mailer sends the changes by mail on a goroutine of its own, apart from
// the command and webhook hooks, so that a dead or hung SMTP server
// delays neither them nor the state machines that queue the changes.
// Changes within Batch of the first go out together, and two mails are
// at least MinInterval apart: a farm flapping for an hour sends one
// summary per interval, not a mail per change.
type mailer struct {
	log   *logrus.Entry
	clock clockwork.Clock
	send  func(ctx context.Context, cfg Email, timeout time.Duration, msg message) error

	mu      sync.Mutex
	cfg     *Email
	timeout time.Duration
	pending *digest
	sent    uint64
	failed  uint64
	wake    chan struct{}
}

func newMailer(log *logrus.Entry) *mailer {
	return &mailer{log: log, clock: clockwork.NewRealClock(), send: sendSMTP, wake: make(chan struct{}, 1)}
}

func (m *mailer) setConfig(cfg *Email, timeout time.Duration) {
	m.mu.Lock()
	m.cfg, m.timeout = cfg, timeout
	if cfg == nil {
		m.pending = nil // mail turned off: nothing more goes out
	}
	m.mu.Unlock()
}

// add queues a change; it never blocks (the digest is bounded).
func (m *mailer) add(e Event) {
	m.mu.Lock()
	if m.cfg == nil {
		m.mu.Unlock()
		return
	}
	if m.pending == nil {
		m.pending = newDigest(m.clock.Now())
	}
	m.pending.add(e)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// stats reports the mails sent and the attempts that failed.
func (m *mailer) stats() (sent, failed uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent, m.failed
}

// due is when the pending changes may go: Batch after the first of
// them, and MinInterval after the last attempt. ok is false when nothing
// is pending.
func (m *mailer) due(last time.Time) (at time.Time, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil || m.cfg == nil {
		return time.Time{}, false
	}
	at = m.pending.since.Add(m.cfg.Batch)
	if !last.IsZero() {
		// A failed mail is retried no sooner than Batch either, so that
		// a refusing server is not hammered when MinInterval is 0.
		if next := last.Add(max(m.cfg.MinInterval, m.cfg.Batch)); next.After(at) {
			at = next
		}
	}
	return at, true
}

// run sends until ctx is done, then what is pending, at once.
func (m *mailer) run(ctx context.Context) {
	var last time.Time // of the last attempt
	for {
		at, ok := m.due(last)
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-m.wake:
				continue
			}
		}
		if wait := at.Sub(m.clock.Now()); wait > 0 {
			t := m.clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				m.flush()
				return
			case <-t.Chan():
			}
		}
		last = m.clock.Now()
		m.flush()
	}
}

// flush sends the pending changes in one mail. A mail that fails is kept
// and goes out with the next changes, after MinInterval.
func (m *mailer) flush() {
	m.mu.Lock()
	d, cfg, timeout := m.pending, m.cfg, m.timeout
	m.pending = nil
	m.mu.Unlock()
	if d == nil || cfg == nil {
		return
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	msg := message{Subject: d.subject(cfg.SubjectPrefix), Body: d.body(), Date: m.clock.Now()}
	// Never the daemon's context: the final changes still go out at stop,
	// bounded by the timeout of each SMTP step and twice it overall.
	ctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
	err := m.send(ctx, *cfg, timeout, msg)
	cancel()
	m.mu.Lock()
	if err == nil {
		m.sent++
		m.mu.Unlock()
		return
	}
	m.failed++
	if m.cfg != nil {
		d.absorb(m.pending)
		m.pending = d
	}
	m.mu.Unlock()
	m.log.WithError(err).WithField("changes", d.count()).Warn("alert mail not sent; retrying with the next one")
}
