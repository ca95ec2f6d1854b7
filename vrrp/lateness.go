package vrrp

import "time"

// LatenessBounds are the upper bounds of the buckets of Lateness: how
// late an advertisement went out against the deadline it was due at.
// They span what matters at the shortest interval (10 ms, where a backup
// takes over after about 3.5 intervals, RFC 5798 §6.1) up to the longest
// a busy machine is seen to stall; a fixed array, so that recording one
// advert allocates nothing.
var LatenessBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, time.Second,
}

// Lateness is the distribution of how late a Node sent its timed
// advertisements: for each one due at a deadline of its Machine (Adver_Timer
// as master or resigning, Master_Down_Timer when taking over), the time
// from that deadline to the write. Adverts sent in answer to an event
// (a priority 0 advert heard, a split brain healing) have no deadline and
// are not counted. An advert goes to every destination at once and counts
// once.
type Lateness struct {
	// Count is how many adverts were recorded, Sum their total lateness
	// and Max the worst.
	Count uint64
	Sum   time.Duration
	Max   time.Duration
	// Buckets[i] counts the adverts later than LatenessBounds[i-1] and at
	// most LatenessBounds[i] late (not cumulative); the last counts those
	// later than every bound.
	Buckets [len(LatenessBounds) + 1]uint64
}

// record adds one advert that went out d after its deadline; a negative
// d (a clock that went back) counts as on time.
func (l *Lateness) record(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(LatenessBounds) && d > LatenessBounds[i] {
		i++
	}
	l.Buckets[i]++
	l.Count++
	l.Sum += d
	l.Max = max(l.Max, d)
}

// Quantile returns the upper bound of the bucket that holds quantile q
// (0 < q <= 1) of the recorded adverts, or 0 when none were: "at most this
// late". Beyond the last bound it returns Max.
func (l Lateness) Quantile(q float64) time.Duration {
	if l.Count == 0 {
		return 0
	}
	rank := uint64(q*float64(l.Count) + 0.5)
	rank = min(max(rank, 1), l.Count)
	var seen uint64
	for i, n := range l.Buckets {
		seen += n
		if seen >= rank {
			if i < len(LatenessBounds) {
				return LatenessBounds[i]
			}
			break
		}
	}
	return l.Max
}
