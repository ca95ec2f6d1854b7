//go:build integration && !ipvs

package integration

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

// The namespace layer's invariants, checked while the faults run:
//
//   - two-holders: both directors hold the VIP (address on an up link)
//     for longer than two advert intervals after the last fault that can
//     split the pair (a kill, a stop, a link down or flapping, a
//     partition, lan loss) ended;
//   - no-holder: nobody holds it for longer than Master_Down_Interval +
//     100 ms while a director is healthy (running, awake, link up),
//     counted from when one became healthy;
//   - ipvs-table: the master's IPVS table differs from the wanted one
//     (its files' weights, its health verdicts, the drains) for more
//     than 1 s;
//   - health: a verdict contradicts the realserver's truth for more than
//     the checks need plus 1 s (from when the director became healthy);
//   - client: a new connection through the VIP fails outside a window
//     that explains it: a fault that can split the pair explains its
//     window and Master_Down_Interval and one request timeout after it
//     (the unplanned death, and the move back when it heals: here each
//     director answers from its own TCP stack, with no IPVS or sync, so
//     a connection open across a move is reset); a SIGTERM or a
//     switchover explains a reset (and only a reset) in its window, for
//     the same reason: a connection being opened at the instant the
//     client follows the VIPs is reset by the new holder, which has no
//     IPVS table to find it in (the VM layer, with IPVS, sync and the
//     relay, explains none: soak_ipvs_watch_test.go); a reload, a drain
//     or a realserver's death explains nothing.
//
// The two-holders bound is two advert intervals and soakMeasure, not
// the one interval: the winner's first advert after a heal comes
// up to one interval after it, and the master that steps down then keeps
// the VIPs one more interval by design (vrrp/node_guard.go). With one
// interval, a 400-fault run (seed 7) saw 6 violations of 150-160 ms,
// all within that design. soakMeasure covers the watcher's 10 ms
// netlink polls and a woken daemon's first advert.
//
// Long-held connections are kept and their breaks counted, but in this
// layer the VIP's holder answers from its own stack, with no IPVS or
// connection sync, so a move breaks them by design: their invariant is
// the VM layer's.

const soakMeasure = 50 * time.Millisecond

var splitKinds = map[string]bool{"sigkill": true, "sigstop": true, "link-down": true, "link-flap": true, "partition": true, "lan-loss": true}

type soakWatch struct {
	s *soakLab
	soakLoops

	movesMu sync.Mutex
	moves   []time.Time  // when the VIP's holders changed (holders)
	resetAt atomic.Int64 // new connections reset at a move after a fault (client)
}

// soakRecovery bounds how long after a fault's end its recovery may move
// the VIP: a director back from a link-down, a stop or a restart waits
// for its first checks (interval 200 ms + timeout 100 ms), for a
// reconcile that began after them (the kernel-table hold), and for
// Master_Down_Interval (361 ms) before it preempts; a restart adds the
// process's start.
const soakRecovery = 5 * time.Second

// moved records a change of the VIP's holders at t.
func (w *soakWatch) moved(t time.Time) {
	w.movesMu.Lock()
	defer w.movesMu.Unlock()
	w.moves = append(w.moves, t)
}

// movedDuring reports whether the VIP's holders changed between from and
// to, at most soakRecovery after a fault that may move it ended.
func (w *soakWatch) movedDuring(from, to time.Time) bool {
	w.movesMu.Lock()
	var at []time.Time
	for i := len(w.moves) - 1; i >= 0 && !w.moves[i].Before(from); i-- {
		if !w.moves[i].After(to) {
			at = append(at, w.moves[i])
		}
	}
	w.movesMu.Unlock()
	for _, t := range at {
		if w.s.log.explained(t, soakRecovery, func(f fault) bool { return splitKinds[f.Kind] || movesVIP[f.Kind] }) {
			return true
		}
	}
	return false
}

// movesVIP are the planned faults that move the VIP.
var movesVIP = map[string]bool{"switchover": true, "sigterm": true}

// watch starts the monitors; stop ends them.
func (s *soakLab) watch() *soakWatch {
	w := &soakWatch{s: s, soakLoops: soakLoops{done: make(chan struct{})}}
	w.every(10*time.Millisecond, w.holders())
	w.every(100*time.Millisecond, w.tables())
	w.every(5*time.Second, func() { s.sampleAll() })
	w.clients(w.client, w.longConn)
	return w
}

func (w *soakWatch) stop() {
	w.stopLoops()
	w.s.l.TB.Logf("client: %d new connections answered, %d failed (%d of them reset at a VIP move after a fault); long connections broken %d times",
		w.ok.Load(), w.failed.Load(), w.resetAt.Load(), w.breaks.Load())
}

// holders returns the two-holders and no-holder check, run every 10 ms.
func (w *soakWatch) holders() func() {
	s := w.s
	vip := netip.MustParseAddr(soakVIP)
	var dualSince, noneSince time.Time
	var dualReported, noneReported bool
	var last []string
	return func() {
		now := time.Now()
		var holders []string
		var healthy time.Time // the earliest of the healthy directors' since
		for _, d := range []string{"a", "b"} {
			if s.l.Lab.LinkIsUp(s.ns[d], "e0") && s.l.Lab.HasAddr(s.ns[d], "e0", vip) {
				holders = append(holders, d)
			}
			s.mu.Lock()
			if h := s.healthy[d]; !h.IsZero() && (healthy.IsZero() || h.Before(healthy)) {
				healthy = h
			}
			s.mu.Unlock()
		}
		read := time.Now() // the reads ran from now to read: see holdersMeasure
		if !slices.Equal(holders, last) {
			w.moved(read)
			last = holders
		}
		s.log.checked("two-holders")
		s.log.checked("no-holder")
		if len(holders) == 2 {
			if dualSince.IsZero() {
				dualSince, dualReported = read, false
			}
			ref := latest(dualSince, s.log.lastEnd(func(f fault) bool { return splitKinds[f.Kind] }))
			if !dualReported && now.Sub(ref) > 2*soakAdvert+soakMeasure {
				dualReported = true
				s.log.violate("two-holders", now, fmt.Sprintf("a and b both hold %s for %v past the last split", soakVIP, now.Sub(ref).Round(time.Millisecond)))
			}
		} else {
			dualSince = time.Time{}
		}
		if len(holders) == 0 && !healthy.IsZero() {
			if noneSince.IsZero() {
				noneSince, noneReported = read, false
			}
			ref := latest(noneSince, healthy)
			if limit := soakMDI + 100*time.Millisecond; !noneReported && now.Sub(ref) > limit {
				noneReported = true
				s.log.violate("no-holder", now, fmt.Sprintf("nobody holds %s for %v with a healthy director (limit %v)",
					soakVIP, now.Sub(ref).Round(time.Millisecond), limit))
			}
		} else {
			noneSince = time.Time{}
		}
	}
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// tables returns the ipvs-table and health check, run every 100 ms
// against each running, awake director.
func (w *soakWatch) tables() func() {
	s := w.s
	since := map[string]time.Time{}
	reported := map[string]bool{}
	return func() {
		for _, d := range []string{"a", "b"} {
			s.mu.Lock()
			awake := s.running[d] && !s.stopped[d]
			healthySince := s.healthy[d]
			s.mu.Unlock()
			if !awake {
				delete(since, d)
				continue
			}
			st, err := soakStatus(s.sock[d], 300*time.Millisecond)
			if err != nil || len(st.VRRP) != 1 {
				continue
			}
			w.health(d, st, healthySince)
			if st.VRRP[0].State != api.StateMaster {
				delete(since, d)
				continue
			}
			s.log.checked("ipvs-table")
			want, have := s.wanted(d, st), tableOf(st)
			if maps.Equal(want, have) {
				delete(since, d)
				continue
			}
			if since[d].IsZero() {
				since[d], reported[d] = time.Now(), false
			}
			if !reported[d] && time.Since(since[d]) > time.Second {
				reported[d] = true
				s.log.violate("ipvs-table", time.Now(), fmt.Sprintf("master %s holds %v, wanted %v for %v",
					d, fmtTable(have), fmtTable(want), time.Since(since[d]).Round(time.Millisecond)))
			}
		}
	}
}

// wanted is d's wanted table: each realserver its health verdict says is
// up, at the weight of d's files, 0 when drained.
func (s *soakLab) wanted(d string, st api.Status) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, h := range st.Health {
		n := realName(h.Real.Addr().String())
		if !h.Up || n == "" {
			continue
		}
		out[h.Real.String()] = s.loaded[d][n]
		if s.drained[n] {
			out[h.Real.String()] = 0
		}
	}
	return out
}

func realName(addr string) string {
	for n, a := range soakReals {
		if a == addr {
			return n
		}
	}
	return ""
}

// tableOf is the echo service's realservers and weights in st's IPVS table.
func tableOf(st api.Status) map[string]int {
	out := map[string]int{}
	for _, svc := range st.IPVS.Services {
		if !strings.Contains(svc.Key, soakVIP+":7000") {
			continue
		}
		for _, r := range svc.Reals {
			out[r.Addr] = r.Weight
		}
	}
	return out
}

func fmtTable(t map[string]int) string {
	var parts []string
	for k, v := range t {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, " ") + "}"
}

// health checks d's verdicts against the realservers' truth: down within
// fall × interval + timeout + 1 s of a kill, up within interval + 1 s of
// a restart, counted from the later of the change and d becoming
// healthy; lan loss at d explains a wrong verdict.
func (w *soakWatch) health(d string, st api.Status, healthySince time.Time) {
	s := w.s
	if healthySince.IsZero() || s.log.explained(time.Now(), 2*time.Second, func(f fault) bool {
		return f.Kind == "lan-loss" && f.Target == d
	}) {
		return
	}
	for _, h := range st.Health {
		n := realName(h.Real.Addr().String())
		if n == "" {
			continue
		}
		s.mu.Lock()
		upSince, downAt := s.rsUpSince[n], s.rsDownAt[n]
		s.mu.Unlock()
		s.log.checked("health")
		switch {
		case upSince.IsZero() && h.Up && time.Since(latest(downAt, healthySince)) > 2*200*time.Millisecond+100*time.Millisecond+time.Second:
			s.log.violate("health", time.Now(), fmt.Sprintf("%s says %s is up; it was killed %v ago", d, n, time.Since(downAt).Round(time.Millisecond)))
		case !upSince.IsZero() && !h.Up && time.Since(latest(upSince, healthySince)) > 200*time.Millisecond+time.Second:
			s.log.violate("health", time.Now(), fmt.Sprintf("%s says %s is down; it is up since %v ago", d, n, time.Since(upSince).Round(time.Millisecond)))
		}
	}
}

// client makes a new connection through the VIP every 40 ms (four of
// them run, 10 ms apart) and records the failures a fault does not
// explain.
func (w *soakWatch) client() {
	s := w.s
	explains := func(f fault) bool { return splitKinds[f.Kind] }
	moves := func(f fault) bool { return movesVIP[f.Kind] }
	for {
		select {
		case <-w.done:
			return
		case <-time.After(40 * time.Millisecond):
		}
		start := time.Now()
		err := <-s.l.Go(s.ns["client"], func() error { return echoWithin(soakVIP+":7000", soakClientTO) })
		s.log.checked("client")
		if err == nil {
			w.ok.Add(1)
			continue
		}
		w.failed.Add(1)
		// A request fails up to one timeout after it started; an
		// unplanned death explains Master_Down_Interval after its end.
		if s.log.explained(start.Add(soakClientTO), soakMDI+soakClientTO, explains) {
			continue
		}
		if errors.Is(err, syscall.ECONNRESET) && s.log.explained(start.Add(soakClientTO), soakMDI+soakClientTO, moves) {
			continue
		}
		// In this layer the holder's own echo server answers (no IPVS,
		// no connection sync), so a move resets the connection in
		// flight; a fault's recovery may move the VIP later than
		// Master_Down_Interval after its end, as a director back from a
		// link-down preempts only after its first checks (a connection
		// opened 0.36 to 2 s after the end of a stop of a, which
		// overlapped a link-down of a, was reset: seed 7, #211-#212, at
		// d7ed9f0; the run kept no log to show the move).
		if errors.Is(err, syscall.ECONNRESET) && w.movedDuring(start.Add(-soakMeasure), start.Add(soakClientTO+soakMeasure)) {
			w.resetAt.Add(1)
			continue
		}
		s.log.violate("client", start, fmt.Sprintf("new connection failed: %v", err))
	}
}

// longConn holds a connection through the VIP, echoing a line every
// 200 ms, and counts its breaks (then opens another).
func (w *soakWatch) longConn() {
	s := w.s
	for {
		c, err := s.l.Lab.Dial(s.ns["client"], soakVIP+":7000", time.Second)
		for err == nil {
			select {
			case <-w.done:
				c.Close()
				return
			case <-time.After(200 * time.Millisecond):
			}
			_ = c.SetDeadline(time.Now().Add(time.Second))
			if _, err = c.Write([]byte("x\n")); err == nil {
				_, err = io.ReadFull(c, make([]byte, 2))
			}
			if err != nil {
				c.Close()
				w.breaks.Add(1)
			}
		}
		select {
		case <-w.done:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
