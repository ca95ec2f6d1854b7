package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"
)

// ErrClosed is returned by Set after Shutdown.
var ErrClosed = errors.New("healthcheck runner: shut down")

// Target is one health check to run: a realserver of a named service and
// the check resolved for it. The targets of a service usually share one
// Spec, which the Runner keeps while it checks them, rather than a copy
// each: a Spec given to Set must not be modified (a changed check is a
// new Spec).
type Target struct {
	Service string
	Real    netip.AddrPort
	Check   *Spec
}

// Event reports that a realserver went up or down.
type Event struct {
	Service string
	Real    netip.AddrPort
	Up      bool
	Reason  Reason // of the failure that took it down; "" when up
	Detail  string
	At      time.Time
}

// Factory builds the checker for a check and a realserver, and the address
// it probes. New is the Runner's default; tests and the director may
// inject another.
type Factory func(c Spec, real netip.AddrPort) (Checker, netip.AddrPort, error)

// Option configures a Runner.
type Option func(*Runner)

// WithClock runs the Runner on c instead of the real clock: gocron
// schedules the batches on it, and results and events carry its time.
// A check's own timeout stays in real time: it bounds real sockets.
func WithClock(c clockwork.Clock) Option { return func(r *Runner) { r.clock = c } }

// WithFactory builds checkers with f instead of New.
func WithFactory(f Factory) Option { return func(r *Runner) { r.factory = f } }

// Result is the outcome of one scheduled run of a check, for metrics and
// benchmarks: when its batch was due, when its result came and what it
// was; or that it did not start because the check's previous run had not
// ended.
type Result struct {
	Service string
	Real    netip.AddrPort
	Due     time.Time // when the run's batch was scheduled to start
	Done    time.Time // when the result was recorded; zero when Skipped
	Err     error     // nil: healthy
	Skipped bool
	Retry   bool // a retry after a failure (Spec.RetryInterval), due when its timer fired
}

// WithResults passes every run's Result to f, from the goroutine that
// ended the run (or skipped it): f must be quick and safe for concurrent
// use. Results of runs cut short by Set or Shutdown are not passed. When
// f has a Result, its run is over: the check's next run may start.
func WithResults(f func(Result)) Option { return func(r *Runner) { r.hook = f } }

// Runner runs every realserver's check and keeps each one's Tracker.
// Checks are started in batches by gocron jobs (see bucket): connect-only
// TCP checks on the connect engine, which waits for all of them on one
// epoll instance, the others on a bounded worker pool. Events are
// delivered in order by a single goroutine that the Runner owns, so the
// callback never runs concurrently with itself and a slow callback never
// delays a check; it may call any method except Shutdown.
type Runner struct {
	log     *logrus.Entry
	clock   clockwork.Clock
	base    time.Time // of the clock, when the Runner was made: entries keep times as durations after it
	factory Factory
	hook    func(Result) // nil: none
	fired   func()       // tests: called as each run of a bucket's fire returns
	sched   gocron.Scheduler
	ctx     context.Context // parent of every job's and check's; cancelled by Shutdown
	cancel  context.CancelFunc
	events  *eventQueue
	engine  *connEngine // nil: every check runs on the pool
	pool    *pool

	setMu   sync.Mutex            // serialises Set and Shutdown
	closed  bool                  // guarded by setMu
	buckets map[bucketKey]*bucket // guarded by setMu

	mu sync.Mutex // guards entries, index, each entry's tracker and row, and rows and health
	// The tracked realservers in the order Set was last given them, and
	// what the metrics read of each one's health, updated in place where
	// a result is recorded (entry.row indexes all three): a scrape copies
	// 10,000 of them from one slice (HealthRows) rather than visiting
	// 10,000 entries wherever the heap put them. index finds a
	// realserver's row (job).
	entries []*entry
	rows    []Pair
	health  []RealState
	index   pairIndex

	retriesStopped bool           // by Shutdown; guarded by mu (retry.go)
	retrying       sync.WaitGroup // retries being started
}

// NewRunner starts an empty Runner; Set gives it work. onEvent (may be
// nil) receives every transition. log (may be nil) gets transitions at
// Info and failed checks at Debug.
func NewRunner(log *logrus.Entry, onEvent func(Event), opts ...Option) (*Runner, error) {
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = logrus.NewEntry(l)
	}
	if onEvent == nil {
		onEvent = func(Event) {}
	}
	r := &Runner{log: log, clock: clockwork.NewRealClock(), factory: New, buckets: map[bucketKey]*bucket{}}
	for _, o := range opts {
		o(r)
	}
	s, err := gocron.NewScheduler(gocron.WithLogger(gocronLogger{log}), gocron.WithClock(r.clock))
	if err != nil {
		return nil, fmt.Errorf("healthcheck scheduler: %w", err)
	}
	r.sched = s
	r.base = r.clock.Now()
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.pool = newPool(r.ctx, maxWorkers)
	if r.engine, err = newConnEngine(r.ctx, r.engineDone); err != nil {
		r.engine = nil
		lvl := logrus.WarnLevel
		if runtime.GOOS != "linux" {
			lvl = logrus.DebugLevel // expected: the engine is Linux only
		}
		log.WithError(err).Log(lvl, "no connect engine: TCP checks run on the worker pool")
	}
	r.events = newEventQueue(onEvent)
	s.Start()
	return r, nil
}

// Set makes targets the whole set of checks. A (service, real) whose check
// is unchanged keeps its schedule and its state, so a reload does not
// disturb health. A changed check gets a fresh count, but keeps the
// current up or down state (its initial state applies only to a new
// realserver). Removed ones stop. Check types none, on and off need no
// runs: their state is set at once, with an Event if it changed. A check
// that cannot be built is tracked as down and reported in the error; the
// others are applied regardless.
func (r *Runner) Set(targets []Target) error {
	r.setMu.Lock()
	defer r.setMu.Unlock()
	if r.closed {
		return ErrClosed
	}
	gone, evs, errs := r.swap(targets)
	for _, e := range gone {
		e.retire()
	}
	errs = append(errs, r.rebucket()...)
	for _, ev := range evs {
		r.logEvent(ev)
	}
	return errors.Join(errs...)
}

// Shutdown stops every job, waits for running checks (each is cancelled
// at once; connects in flight are closed) and for the event callback to
// finish the events already queued. Later calls do nothing.
func (r *Runner) Shutdown() error {
	r.setMu.Lock()
	if r.closed {
		r.setMu.Unlock()
		return nil
	}
	r.closed = true
	r.setMu.Unlock()
	r.cancel()
	err := r.sched.Shutdown()
	r.stopRetries()
	r.pool.wait()
	if r.engine != nil {
		r.engine.wait()
	}
	r.events.close()
	if err != nil {
		return fmt.Errorf("healthcheck scheduler shutdown: %w", err)
	}
	return nil
}

// logEvent logs a transition at Info.
func (r *Runner) logEvent(ev Event) {
	f := logrus.Fields{"service": ev.Service, "real": ev.Real.String(), "up": ev.Up}
	if ev.Reason != "" {
		f["reason"] = string(ev.Reason)
	}
	msg := "realserver up"
	if !ev.Up {
		msg = "realserver down"
	}
	r.log.WithFields(f).Info(msg + ": " + ev.Detail)
}

// gocronLogger passes gocron's own messages to logrus; its Info messages
// (scheduler started, stopped) go at Debug.
type gocronLogger struct{ log *logrus.Entry }

// Debug logs at Debug.
func (l gocronLogger) Debug(msg string, args ...any) { l.log.WithFields(fields(args)).Debug(msg) }

// Info logs at Debug: gocron's Info is about the scheduler, not checks.
func (l gocronLogger) Info(msg string, args ...any) { l.log.WithFields(fields(args)).Debug(msg) }

// Warn logs at Warn.
func (l gocronLogger) Warn(msg string, args ...any) { l.log.WithFields(fields(args)).Warn(msg) }

// Error logs at Error.
func (l gocronLogger) Error(msg string, args ...any) { l.log.WithFields(fields(args)).Error(msg) }

// fields turns slog-style key, value pairs into logrus fields.
func fields(args []any) logrus.Fields {
	f := make(logrus.Fields, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		f[fmt.Sprint(args[i])] = args[i+1]
	}
	return f
}
