package healthcheck

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// Checks are scheduled in batches. Each check has a phase, a fixed offset
// in [0, interval) hashed from its key, so that checks do not all fire
// together after a start or a reload. The checks of one interval whose
// phases fall in the same slice of it, a bucket, share one gocron job:
// 10,000 checks every second make 100 jobs firing once a second each, not
// 10,000, and gocron's cost per run (tens of microseconds) is paid per
// batch rather than per check.
const (
	maxBuckets  = 100                   // per distinct interval
	minBucketIv = 10 * time.Millisecond // no finer than this
)

// bucketKey names a batch: an interval and a slice of it.
type bucketKey struct {
	interval time.Duration
	index    int
}

// bucketCount is how many buckets an interval is cut into: maxBuckets,
// or fewer so that each spans at least minBucketIv.
func bucketCount(iv time.Duration) int {
	return int(min(max(iv/minBucketIv, 1), maxBuckets))
}

// bucketOf is the bucket of a check of interval iv with phase p.
func bucketOf(iv, p time.Duration) bucketKey {
	n := bucketCount(iv)
	return bucketKey{iv, int(int64(p) * int64(n) / int64(iv))}
}

// offset is where the bucket's runs fall in its interval.
func (k bucketKey) offset() time.Duration {
	return time.Duration(int64(k.interval) * int64(k.index) / int64(bucketCount(k.interval)))
}

// spread is a deterministic offset in [0, interval) derived from the key.
func spread(k key, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(k.service))
	_, _ = h.Write([]byte{0})
	b, _ := k.real.MarshalBinary()
	_, _ = h.Write(b)
	return time.Duration(h.Sum64() % uint64(interval))
}

// bucket is one gocron job and the checks it starts.
type bucket struct {
	key     bucketKey
	first   time.Time // the job's first run; later ones follow every interval
	job     gocron.Job
	members atomic.Pointer[[]*entry] // replaced whole by Set, read by fire
	firing  atomic.Bool              // a run of fire is under way
}

// due is the run of b that was scheduled at or before now.
func (b *bucket) due(now time.Time) time.Time {
	d := now.Sub(b.first)
	if d <= 0 {
		return b.first
	}
	return b.first.Add(d - d%b.key.interval)
}

// rebucket puts every scheduled check in its bucket, starts a job for
// each new bucket and stops those of buckets left empty. A bucket that
// stays keeps its job and so its phase. It runs under setMu.
func (r *Runner) rebucket() []error {
	groups := map[bucketKey][]*entry{}
	r.mu.Lock()
	for _, e := range r.entries {
		if e.scheduled() {
			groups[e.bucket()] = append(groups[e.bucket()], e)
		}
	}
	r.mu.Unlock()
	for k, b := range r.buckets {
		if _, ok := groups[k]; !ok {
			_ = r.sched.RemoveJob(b.job.ID()) // not found: it ended on its own
			delete(r.buckets, k)
		}
	}
	var errs []error
	for k, members := range groups {
		slices.SortFunc(members, func(a, b *entry) int {
			return cmp.Or(cmp.Compare(a.phase, b.phase), cmp.Compare(a.service, b.service), a.real.Compare(b.real))
		})
		if b := r.buckets[k]; b != nil {
			b.members.Store(&members)
			continue
		}
		b := &bucket{key: k}
		b.members.Store(&members)
		if err := r.startBucket(b); err != nil {
			errs = append(errs, err)
			continue
		}
		r.buckets[k] = b
	}
	return errs
}

// startBucket starts b's gocron job, first due at b's offset from now.
// The first bucket starts at once: a start time of now would be past by
// the time gocron's scheduler reads it, and gocron would skip a run.
func (r *Runner) startBucket(b *bucket) error {
	b.first = r.clock.Now().Add(b.key.offset())
	start := gocron.WithStartDateTimePast(b.first)
	if b.key.index == 0 {
		start = gocron.WithStartImmediately()
	}
	j, err := r.sched.NewJob(gocron.DurationJob(b.key.interval),
		gocron.NewTask(func(ctx context.Context) { r.fire(ctx, b) }),
		gocron.WithContext(r.ctx),
		gocron.WithStartAt(start),
		gocron.WithName(fmt.Sprintf("checks every %v, batch %d", b.key.interval, b.key.index)),
	)
	if err != nil {
		return fmt.Errorf("healthcheck batch %d of %v: schedule: %w", b.key.index, b.key.interval, err)
	}
	b.job = j
	return nil
}

// fire is a bucket's gocron task: it starts each of its checks whose
// previous run has ended and counts the others as skipped, so that a slow
// check never overlaps itself. Connect-only TCP checks go to the connect
// engine, which returns at once; the others then go to the worker pool,
// which may make fire wait for a free worker; a run of the bucket due
// meanwhile is skipped, uncounted. (The bucket's own flag does what
// gocron's singleton mode would, and is down by the time fire returns, so
// that a test on a fake clock knows when the bucket may fire again.)
func (r *Runner) fire(ctx context.Context, b *bucket) {
	if r.fired != nil {
		defer r.fired()
	}
	if !b.firing.CompareAndSwap(false, true) {
		return
	}
	defer b.firing.Store(false)
	due := b.due(r.clock.Now())
	members := *b.members.Load()
	var (
		fast = make([]connReq, 0, len(members)) // handed to the engine, which drops it once begun
		slow []*entry
	)
	for _, e := range members {
		if e.gone.Load() {
			continue
		}
		if !e.running.CompareAndSwap(false, true) {
			if !e.isRetry.Load() { // a retry under way stands for this run
				r.skipped(e, due)
			}
			continue
		}
		e.due = due.Sub(r.base)
		e.isRetry.Store(false)
		if e.connect {
			fast = append(fast, e)
		} else {
			slow = append(slow, e)
		}
	}
	if len(fast) > 0 {
		r.engine.start(fast...)
	}
	for _, e := range slow {
		if ctx.Err() != nil || !r.pool.run(func() { r.runChecker(e) }) {
			e.running.Store(false)
		}
	}
}
