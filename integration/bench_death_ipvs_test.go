//go:build integration && ipvs

package integration

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/integration/netlab"
)

// BenchmarkIPVSRealserverDeath: one of three nginx realservers behind NAT
// dies (SIGKILL: its port then refuses connections), over and over, while
// a client opens a new connection to the VIP every 10 ms. For each
// director it reports the time from the death to the realserver's
// removal from the kernel's table (as a 10 ms poll of the table sees it)
// and the client's failed requests meanwhile. Every director checks by
// TCP connect every second:
//   - lvsd, fall 3, retry_interval 100 ms (the default);
//   - lvsd, fall 3, retry_interval 1 s (= interval: no retries, as before);
//   - keepalived TCP_CHECK, delay_loop 1, retry 2, delay_before_retry 0.1;
//   - ldirectord checktype connect, checkinterval 1, failurecount 2.
//
// A death falls at a random point of the check cycle, so each director
// sees deathRuns of them, spread over the second, and the figures are
// their mean and maximum. Goal: lvsd with retries removes a dead
// realserver within interval + 300 ms.
func BenchmarkIPVSRealserverDeath(b *testing.B) {
	netlab.NeedIPVS(b)
	got := map[string]deathResult{}
	for _, d := range deathDirectors() {
		b.Run(d.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				got[d.name] = deathRun(b, d)
			}
			r := got[d.name]
			b.ReportMetric(r.mean().Seconds(), "mean-s")
			b.ReportMetric(r.max().Seconds(), "max-s")
			b.ReportMetric(float64(r.failed)/float64(len(r.removal)), "failed/death")
		})
	}
	fmt.Print(deathTable(got))
	lv, off, ka, ld := got[deathLvsd], got[deathLvsdOff], got[deathKeepalived], got[deathLdirectord]
	if len(lv.removal) > 0 && len(ka.removal) > 0 {
		benchRow("realserver death to removal, TCP check every 1 s, fall 3 (VM)", lv.String(), "keepalived retry 2, delay_before_retry 0.1: "+ka.String(),
			fmt.Sprintf("lvsd retry_interval 100 ms; goal max <= 1.3 s; %d deaths each, client every 10 ms", deathRuns))
	}
	if len(lv.removal) > 0 && len(ld.removal) > 0 {
		benchRow("realserver death to removal vs ldirectord (VM)", lv.String(), "ldirectord failurecount 2: "+ld.String(),
			"lvsd fall 3, retry_interval 100 ms; ldirectord checkinterval 1")
	}
	if len(lv.removal) > 0 && len(off.removal) > 0 {
		benchRow("realserver death to removal, lvsd retries vs none (VM)", lv.String(), "lvsd without retries: "+off.String(),
			"fall 3, interval 1 s; retry_interval 100 ms vs 1 s")
	}
}

// deathRuns is how many deaths each director sees.
const deathRuns = 6

const (
	deathLvsd       = "lvsd"
	deathLvsdOff    = "lvsd-no-retry"
	deathKeepalived = "keepalived"
	deathLdirectord = "ldirectord"
	deathVIP        = "192.0.2.10:80"
)

var deathReals = []string{"198.51.100.11:8080", "198.51.100.12:8080", "198.51.100.13:8080"}

// deathDirector starts one director in the lab's director namespace,
// managing deathVIP over deathReals, and returns what stops it.
type deathDirector struct {
	name  string
	start func(l *netlab.T, ns string) (stop func())
}

func deathDirectors() []deathDirector {
	return []deathDirector{
		{deathLvsd, func(l *netlab.T, ns string) func() { return deathStartLvsd(l, ns, "100ms") }},
		{deathLvsdOff, func(l *netlab.T, ns string) func() { return deathStartLvsd(l, ns, "1s") }},
		{deathKeepalived, deathStartKeepalived},
		{deathLdirectord, deathStartLdirectord},
	}
}

// deathResult is what one director did over its deaths.
type deathResult struct {
	removal  []time.Duration // death to removal, one per death
	failed   int             // client requests failed between each death and the realserver's return
	requests int             // client requests made meanwhile
}

func (r deathResult) mean() time.Duration {
	var sum time.Duration
	for _, d := range r.removal {
		sum += d
	}
	return sum / time.Duration(max(len(r.removal), 1))
}

func (r deathResult) max() time.Duration { return slices.Max(r.removal) }

func (r deathResult) String() string {
	return fmt.Sprintf("mean %v, max %v; %.1f failed requests per death", r.mean().Round(10*time.Millisecond),
		r.max().Round(10*time.Millisecond), float64(r.failed)/float64(max(len(r.removal), 1)))
}

// deathTable renders every director's figures as markdown.
func deathTable(got map[string]deathResult) string {
	var t strings.Builder
	t.WriteString("\nrealserver death (SIGKILL) to removal from IPVS, TCP connect checks every 1 s, client every 10 ms (VM)\n\n")
	t.WriteString("| director | deaths | removal mean | removal max | failed requests per death | each death to removal |\n|---|---|---|---|---|---|\n")
	for _, name := range []string{deathLvsd, deathLvsdOff, deathKeepalived, deathLdirectord} {
		r, ok := got[name]
		if !ok || len(r.removal) == 0 {
			continue
		}
		var each []string
		for _, d := range r.removal {
			each = append(each, d.Round(10*time.Millisecond).String())
		}
		fmt.Fprintf(&t, "| %s | %d | %v | %v | %.1f (%d of %d) | %s |\n", name, len(r.removal), r.mean().Round(10*time.Millisecond),
			r.max().Round(10*time.Millisecond), float64(r.failed)/float64(len(r.removal)), r.failed, r.requests, strings.Join(each, " "))
	}
	return t.String()
}

// deathRun builds the lab, starts the director, and kills and restarts
// the second realserver deathRuns times.
func deathRun(b *testing.B, d deathDirector) deathResult {
	l := netlab.ForTest(b)
	client, dir := l.NS("client"), l.NS("dir")
	l.Link(client, "c0", "192.0.2.100/24", dir, "d0", "192.0.2.1/24")
	l.In(dir, "ip", "addr", "add", "192.0.2.10/32", "dev", "d0")
	l.In(dir, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	l.Bridge(dir, "br0", "198.51.100.1/24")
	var rs2ns string
	servers := map[string]*netlab.Proc{}
	for i, name := range []string{"rs1", "rs2", "rs3"} {
		rs := l.NS(name)
		if name == "rs2" {
			rs2ns = rs
		}
		l.Plug(dir, "br0", "d"+name, rs, "e0", fmt.Sprintf("198.51.100.%d/24", 11+i))
		l.In(rs, "ip", "route", "add", "default", "via", "198.51.100.1")
		servers[name] = l.Nginx(rs, name, 8080, name)
	}
	stop := d.start(l, dir)
	defer stop()
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	key := ipvs.ServiceKey{Protocol: syscall.IPPROTO_TCP, Addr: netip.MustParseAddrPort(deathVIP)}
	w := watchKernel(l, dir, key, stopWatch)
	rs2 := netip.MustParseAddrPort(deathReals[1])
	all := func(ds []netip.AddrPort) bool { return len(ds) == 3 }
	gone := func(ds []netip.AddrPort) bool { return len(ds) == 2 && !slices.Contains(ds, rs2) }
	if _, ok := deathWait(w, time.Time{}, 120*time.Second, all); !ok {
		b.Fatalf("%s: the three realservers never were in the kernel\n%s", d.name, deathLog(l, d.name))
	}
	stopClient := make(chan struct{})
	probe, done := requestLoop(l, client, deathVIP, 10*time.Millisecond, stopClient)
	defer func() {
		close(stopClient)
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	var r deathResult
	for run := range deathRuns {
		// Settle, then die at a different point of the check cycle each time.
		time.Sleep(time.Second + time.Duration(run)*time.Second/deathRuns)
		probe.mu.Lock()
		failed0, reqs0 := probe.failed, probe.failed+probe.ok
		probe.mu.Unlock()
		killed := time.Now()
		servers["rs2"].Kill()
		removed, ok := deathWait(w, killed, 30*time.Second, gone)
		if !ok {
			b.Fatalf("%s: rs2 still in the kernel 30 s after its death\n%s", d.name, deathLog(l, d.name))
		}
		r.removal = append(r.removal, removed.Sub(killed))
		time.Sleep(300 * time.Millisecond) // requests under way at the removal end
		probe.mu.Lock()
		r.failed += probe.failed - failed0
		r.requests += probe.failed + probe.ok - reqs0
		probe.mu.Unlock()
		back := time.Now()
		servers["rs2"] = l.Nginx(rs2ns, fmt.Sprintf("rs2-%d", run), 8080, "rs2")
		if _, ok := deathWait(w, back, 60*time.Second, all); !ok {
			b.Fatalf("%s: rs2 not back in the kernel 60 s after its restart\n%s", d.name, deathLog(l, d.name))
		}
	}
	return r
}

// deathWait waits at most limit for the first change after after that
// satisfies cond, and returns when the watcher saw it.
func deathWait(w *kernelWatch, after time.Time, limit time.Duration, cond func([]netip.AddrPort) bool) (time.Time, bool) {
	var at time.Time
	_, ok := netlab.Poll(limit, 5*time.Millisecond, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, c := range w.changes {
			if c.at.After(after) && cond(c.dests) {
				at = c.at
				return true
			}
		}
		return false
	})
	return at, ok
}

// deathLog is the end of a director's log, for a failure.
func deathLog(l *netlab.T, name string) string {
	s := l.LogOf(name)
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return s
}

// deathStartLvsd runs lvsd with TCP checks every second, fall 3 and the
// given retry_interval.
func deathStartLvsd(l *netlab.T, ns, retry string) func() {
	bin := lvsdBinary(l.TB)
	l.Write("lvsd/lvsd.yaml", "node: dir\ncontrol: {socket: ctl.sock}\nhttp: {listen: \"\"}\n")
	var reals strings.Builder
	for _, r := range deathReals {
		fmt.Fprintf(&reals, "  - address: %s\n", r)
	}
	l.Write("lvsd/services.d/web.yaml", fmt.Sprintf(`name: web
virtual: %s
scheduler: rr
forward: nat
check: {type: tcp, interval: 1s, timeout: 1s, fall: 3, rise: 1, retry_interval: %s}
reals:
%s`, deathVIP, retry, reals.String()))
	p, _ := startLvsd(l, ns, bin, "lvsd")
	return func() { _ = p.Stop(10 * time.Second) }
}

// deathStartKeepalived runs keepalived's checker alone (no VRRP).
func deathStartKeepalived(l *netlab.T, ns string) func() {
	var c strings.Builder
	vip := netip.MustParseAddrPort(deathVIP)
	fmt.Fprintf(&c, "global_defs {\n    router_id death\n}\nvirtual_server %v %d {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n",
		vip.Addr(), vip.Port())
	for _, r := range deathReals {
		a := netip.MustParseAddrPort(r)
		fmt.Fprintf(&c, "    real_server %v %d {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n            retry 2\n            delay_before_retry 0.1\n        }\n    }\n",
			a.Addr(), a.Port())
	}
	c.WriteString("}\n")
	conf := l.Write("keepalived.conf", c.String())
	dir := l.Dir
	p := l.StartGroup(ns, deathKeepalived, "keepalived", "-f", conf, "--dont-fork", "--log-console", "--check", "--no-syslog",
		"-p", filepath.Join(dir, "keepalived.pid"), "-c", filepath.Join(dir, "checkers.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	return func() { _ = p.Stop(10 * time.Second) }
}

// deathStartLdirectord runs ldirectord in the foreground (-d).
func deathStartLdirectord(l *netlab.T, ns string) func() {
	var c strings.Builder
	fmt.Fprintf(&c, "checktimeout=1\ncheckinterval=1\nfailurecount=2\nautoreload=no\nquiescent=no\nfork=no\nlogfile=\"%s\"\nvirtual=%s\n",
		filepath.Join(l.Dir, "ldirectord.detail.log"), deathVIP)
	for _, r := range deathReals {
		fmt.Fprintf(&c, "\treal=%s masq 1\n", r)
	}
	c.WriteString("\tchecktype=connect\n\tscheduler=rr\n\tprotocol=tcp\n")
	conf := l.Write("ldirectord.cf", c.String())
	p := l.StartGroup(ns, deathLdirectord, "ldirectord", "-d", conf, "start")
	return func() { _ = p.Stop(10 * time.Second) }
}
