//go:build integration

package integration

import (
	"fmt"
	"strings"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

// The VM soak's ipvs-table invariant, its pure part: the master's kernel
// table must equal its wanted table within 1 s of any change. The watcher
// (soak_ipvs_watch_test.go) reads the status, then the kernel, in rounds
// that last up to seconds under emulation; these follow each difference
// from round to round.

// tableSpans holds, per director, the differences seen in its last
// rounds, each by key (a service and one of its realservers).
type tableSpans map[string]map[string]*tableSpan

// tableSpan is one difference held over rounds.
type tableSpan struct {
	since    time.Time
	first    string
	rounds   int
	reported bool
}

// forget drops d's differences: a round found d not to be the master.
func (t tableSpans) forget(d string) { delete(t, d) }

// round records one round of d, whose kernel was read at read, with the
// differences diff (by key; unsettled ones already left out). A key not
// in diff ends its span. It returns the violations: each difference held
// for more than 1 s, once per span.
func (t tableSpans) round(d string, read time.Time, diff map[string]string) []string {
	if t[d] == nil {
		t[d] = map[string]*tableSpan{}
	}
	for k := range t[d] {
		if _, ok := diff[k]; !ok {
			delete(t[d], k)
		}
	}
	var out []string
	for k, what := range diff {
		sp := t[d][k]
		if sp == nil {
			sp = &tableSpan{since: read, first: what}
			t[d][k] = sp
		}
		sp.rounds++
		if !sp.reported && read.Sub(sp.since) > time.Second {
			sp.reported = true
			out = append(out, fmt.Sprintf("master %s's kernel differs from the wanted table for %v (%d rounds): %s (first: %s)",
				d, read.Sub(sp.since).Round(time.Millisecond), sp.rounds, what, sp.first))
		}
	}
	return out
}

// kernelDiff names each difference of two tables ("vip:port>real:port"
// to weight) by its key.
func kernelDiff(want, have map[string]int) map[string]string {
	d := map[string]string{}
	for k, w := range want {
		if h, ok := have[k]; !ok {
			d[k] = fmt.Sprintf("missing %s=%d", k, w)
		} else if h != w {
			d[k] = fmt.Sprintf("%s=%d want %d", k, h, w)
		}
	}
	for k, h := range have {
		if _, ok := want[k]; !ok {
			d[k] = fmt.Sprintf("extra %s=%d", k, h)
		}
	}
	return d
}

// unsettled reports whether the verdict on key's realserver changed
// between the status read before the kernel (st) and the one after
// (st2), or after since (1 s before the kernel read): the table may still
// be following it.
func unsettled(key string, st, st2 api.Status, since time.Time) bool {
	_, real, ok := strings.Cut(key, ">")
	if !ok {
		return false
	}
	verdict := func(s api.Status) (bool, time.Time, bool) {
		for _, h := range s.Health {
			if h.Real.String() == real {
				return h.Up, h.Since, true
			}
		}
		return false, time.Time{}, false
	}
	up1, _, ok1 := verdict(st)
	up2, at, ok2 := verdict(st2)
	return ok1 != ok2 || up1 != up2 || at.After(since)
}
