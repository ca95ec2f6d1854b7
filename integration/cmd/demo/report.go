package main

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/lvsd/lvsd/director/probe"
)

func report(w io.Writer, begin time.Time, steps []step, samples []probe.Sample) {
	end := time.Now()
	if n := len(samples); n > 0 {
		end = samples[n-1].At.Add(time.Millisecond)
	}
	fmt.Fprintf(w, "\nlvsd pair demo: a client requests http://%s every 10 ms (a new connection each time)\n", vip)
	fmt.Fprintln(w, "through the VIP, NAT to three nginx app servers; A (priority 150) and B (100), adverts every 200 ms.")
	fmt.Fprintf(w, "A request fails on an error or after %v; one slower than %v is slow (it needed a TCP retransmission).\n", probeTimeout, slowRequest)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| %-7s | %-47s | %-40s | %-14s | %-11s | %-18s |\n", "t", "event", "effect", "client outage", "failed", "slow (slowest)")
	fmt.Fprintf(w, "|%s|%s|%s|%s|%s|%s|\n", dashes(9), dashes(49), dashes(42), dashes(16), dashes(13), dashes(20))
	fmt.Fprintf(w, "| %-7s | %-47s | %-40s | %-14s | %-11s | %-18s |\n", "0.0s", "A is master, traffic flows", "", "", "", "")
	for i, st := range steps {
		to := end
		if i+1 < len(steps) {
			to = steps[i+1].at
		}
		m := probe.Measure(samples, st.at, to, slowRequest)
		effect := fmt.Sprintf("%s after %.2fs", st.result, st.took.Seconds())
		slow := fmt.Sprintf("%d (%d ms)", m.Slow, m.Slowest.Milliseconds())
		fmt.Fprintf(w, "| %-7s | %-47s | %-40s | %-14s | %4d of %-4d | %-18s |\n", fmt.Sprintf("%.1fs", st.at.Sub(begin).Seconds()),
			st.what, effect, fmt.Sprintf("%d ms", m.Outage.Milliseconds()), m.Failed, m.OK+m.Failed, slow)
	}
	failures(w, end, steps, samples)
	fmt.Fprintln(w, "\nVRRP states (front/gateway) once each effect was reached:")
	for _, st := range steps {
		fmt.Fprintf(w, "  %-47s %s\n", st.what, st.after)
	}
	all := probe.Measure(samples, time.Time{}, end, slowRequest)
	fmt.Fprintf(w, "\nrequests: %d, failed: %d, slow: %d; served by:", all.OK+all.Failed, all.Failed, all.Slow)
	for _, kv := range byRealserver(samples) {
		fmt.Fprintf(w, " %s %d", kv.name, kv.n)
	}
	fmt.Fprintln(w)
}

// failures prints, per event with failed or slow requests, the first
// few and why each failed (the client's error) or when it was slow, so
// that a failure in a planned move can be told from the app server
// stopped on purpose, and a slow request placed in its event (a
// director's start, or the move).
func failures(w io.Writer, end time.Time, steps []step, samples []probe.Sample) {
	const each = 3
	header := false
	for i, st := range steps {
		to := end
		if i+1 < len(steps) {
			to = steps[i+1].at
		}
		var lines []string
		failed, slow := 0, 0
		for _, s := range samples {
			if s.At.Before(st.at) || !s.At.Before(to) || (s.OK && s.Took <= slowRequest) {
				continue
			}
			why := "slow"
			if s.OK {
				slow++
			} else {
				failed++
				why = s.Body
			}
			if failed+slow <= each {
				lines = append(lines, fmt.Sprintf("    +%.3fs, after %d ms: %s", s.At.Sub(st.at).Seconds(), s.Took.Milliseconds(), why))
			}
		}
		if failed+slow == 0 {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\nFailed and slow requests, the first of each event (+ from the event):")
			header = true
		}
		fmt.Fprintf(w, "  %s: %d failed, %d slow\n", st.what, failed, slow)
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}
}

type count struct {
	name string
	n    int
}

func byRealserver(samples []probe.Sample) []count {
	m := map[string]int{}
	for _, s := range samples {
		if s.OK {
			m[s.Body]++
		}
	}
	var out []count
	for name, n := range m {
		out = append(out, count{name, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func dashes(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '-'
	}
	return string(b)
}
