package director

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/director/web"
	"github.com/lvsd/lvsd/healthcheck"
)

// The size make bench gives the figures at, and the acceptance's budget
// at it: under 1% of a core at one scrape a second, 10 ms a scrape.
const (
	benchServices, benchReals = 1000, 10
	budgetShare               = 0.01
)

// prometheusHeaders are what Prometheus 3 sends with a scrape: it asks
// for gzip unless told not to (scrape_config enable_compression).
func prometheusRequest(url string) *http.Request {
	req := httptest.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"+
		"application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"+
		"text/plain;version=0.0.4;q=0.2,*/*;q=0.1")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
	return req
}

// checkedFarm runs a farm of benchServices x benchReals and gives every
// realserver one check result, so that the exposition has the latency
// and duration families of a checked farm (the farm's checks are "none":
// no packet leaves).
func checkedFarm(b *testing.B) *Director {
	d, _ := runFarm(b, farm(b, benchServices, benchReals, freeAddr(b)))
	due := time.Now()
	for _, s := range d.Current().Config.Services {
		for _, r := range s.Reals {
			d.metrics.health.Observe(healthcheck.Result{Service: s.Name, Real: r.Addr, Due: due, Done: due.Add(2 * time.Millisecond)})
		}
	}
	return d
}

// liveFarm is a farm of the same size whose values move as on a farm in
// service, so that a scrape cannot send most of last scrape's lines
// again: every realserver TCP-checked every 2 s (the default interval)
// by the health runner, through a checker that sends nothing and passes
// at once (the runner's scheduling, rise and fall and metrics run as in
// a daemon, at their phases spread over the interval; the probes' own
// cost is left out), and every destination given traffic every 2 s, when
// a kernel folds its per-CPU counters into those it reports (ip_vs_est.c):
// new connections, packets and bytes, and active and inactive
// connections that vary. The traffic's cost is in the daemon's figure,
// and small. It stops with the benchmark.
func liveFarm(b *testing.B) *Director {
	mem := ipvs.NewMemory()
	pass := healthcheck.CheckerFunc(func(context.Context, netip.AddrPort) error { return nil })
	checkers := func(c healthcheck.Spec, real netip.AddrPort) (healthcheck.Checker, netip.AddrPort, error) {
		return pass, real, nil
	}
	d, _ := runFarmOn(b, farmChecked(b, benchServices, benchReals, freeAddr(b), "{type: tcp, interval: 2s}"), mem, checkers)
	rng := rand.New(rand.NewPCG(11, 3))
	traffic := func() {
		mem.Traffic(func(ipvs.ServiceKey, netip.AddrPort) ipvs.DestCounters {
			conns := 1 + rng.Uint32N(8)
			return ipvs.DestCounters{Active: rng.Uint32N(40), Inactive: rng.Uint32N(80), Total: conns,
				InPackets: 12 * conns, OutPackets: 10 * conns, InBytes: 1500 * uint64(conns), OutBytes: 9000 * uint64(conns)}
		})
	}
	traffic()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				traffic()
			}
		}
	}()
	b.Cleanup(func() { cancel(); <-done })
	time.Sleep(3 * time.Second) // every realserver checked at least once
	return d
}

// cpuTime is the process's CPU time so far, user and system: on a shared
// machine it varies less than the wall time.
func cpuTime() time.Duration {
	u, s := cpuTimes()
	return u + s
}

// cpuTimes is the process's CPU time so far in user and in system mode.
func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// BenchmarkScrape measures one /metrics scrape as Prometheus makes it
// (gzip) of a director with 1,000 services x 10 realservers (in-memory
// IPVS, zero counters): the CPU and wall time, the allocations, and the
// bytes sent; and from the CPU time the share of a core one scrape a
// second takes. The exposition goes to a counting writer, as it would to
// a socket. The values do not change from scrape to scrape, so each
// family's compressed lines are sent again (web's codes); the last figure
// is a scrape after every family changed.
func BenchmarkScrape(b *testing.B) {
	d := checkedFarm(b)
	h := d.web.Handler()
	plain := scrape(b, d) // renders the labels once, as the first scrape after a reload does
	w := &countingWriter{h: http.Header{}}
	req := prometheusRequest("/metrics")
	h.ServeHTTP(w, req)
	if w.h.Get("Content-Encoding") != "gzip" {
		b.Fatalf("a scrape asking for gzip got Content-Encoding %q", w.h.Get("Content-Encoding"))
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		w.n = 0
		h.ServeHTTP(w, req)
	}
	cpu := (cpuTime() - cpu0) / time.Duration(b.N)
	wall := b.Elapsed() / time.Duration(b.N)
	b.StopTimer()
	b.ReportMetric(float64(cpu.Nanoseconds()), "cpu-ns/op")
	b.ReportMetric(float64(w.n), "wire-bytes/op")
	wire := w.n
	var ms runtimeAllocs
	ms.measure(func() { h.ServeHTTP(w, req) })
	fmt.Printf("BENCH|/metrics scrape as Prometheus asks (gzip), %d services x %d reals|%.1f ms CPU (%.1f ms wall), %d allocs, %.1f MB allocated|< %.0f ms CPU|%d lines, %.1f MB of text sent as %.2f MB; machine shared, see the median of runs\n",
		benchServices, benchReals, ms2(cpu), ms2(wall), ms.allocs, float64(ms.bytes)/1e6, budgetShare*1000,
		strings.Count(plain, "\n"), float64(len(plain))/1e6, float64(wire)/1e6)
	fmt.Printf("BENCH|CPU share at 1 scrape/s implied by the scrape's CPU time, %d x %d|%.2f%% of a core|< %.0f%%|-\n",
		benchServices, benchReals, 100*cpu.Seconds(), 100*budgetShare)
	// The farm's values do not change between scrapes (checks none, an
	// in-memory table's counters are 0), so every family's compressed
	// lines are sent again; a scrape after every family changed writes
	// and compresses them all.
	const anewRuns = 10
	cpu0 = cpuTime()
	for range anewRuns {
		d.web.ForgetCodes()
		h.ServeHTTP(w, req)
	}
	anew := (cpuTime() - cpu0) / anewRuns
	fmt.Printf("BENCH|/metrics scrape (gzip) after every family changed since the last one, %d x %d|%.1f ms CPU|< %.0f ms CPU|the scrapes above send unchanged families' compressed lines again; here none is unchanged\n",
		benchServices, benchReals, ms2(anew), budgetShare*1000)
}

// BenchmarkScrapePlain is the same scrape by a client that does not ask
// for gzip (curl without --compressed).
func BenchmarkScrapePlain(b *testing.B) {
	d := checkedFarm(b)
	h := d.web.Handler()
	w := &countingWriter{h: http.Header{}}
	req := httptest.NewRequest("GET", "/metrics", nil)
	h.ServeHTTP(w, req)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		w.n = 0
		h.ServeHTTP(w, req)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(w.n), "wire-bytes/op")
}

func ms2(d time.Duration) float64 { return float64(d) / 1e6 }

// runtimeAllocs counts one call's heap allocations.
type runtimeAllocs struct {
	allocs int
	bytes  uint64
}

// (testing.Benchmark would wait for the running benchmark's lock.)
func (a *runtimeAllocs) measure(f func()) {
	const runs = 3
	var m0, m1 runtime.MemStats
	f()
	runtime.ReadMemStats(&m0)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&m1)
	a.allocs, a.bytes = int((m1.Mallocs-m0.Mallocs)/runs), (m1.TotalAlloc-m0.TotalAlloc)/runs
}

// countingWriter is a ResponseWriter that keeps nothing but a count.
type countingWriter struct {
	h http.Header
	n int
}

func (c *countingWriter) Header() http.Header         { return c.h }
func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
func (c *countingWriter) WriteHeader(int)             {}

// BenchmarkStatusPage measures rendering the status page of the same
// director from its snapshot, as / shows it (the realservers in service
// counted per service, the others listed) and as ?reals=all does, and
// taking the snapshot.
func BenchmarkStatusPage(b *testing.B) {
	d, _ := runFarm(b, farm(b, benchServices, benchReals, freeAddr(b)))
	ctx := context.Background()
	st := d.Status(ctx)
	var buf bytes.Buffer
	page := func(all bool) (time.Duration, int) {
		const runs = 5
		start := time.Now()
		for range runs {
			buf.Reset()
			if err := web.Render(&buf, st, time.Now(), all); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start) / runs, buf.Len()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		if err := web.Render(&buf, st, time.Now(), false); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	render, size := page(false)
	renderAll, sizeAll := page(true)
	start := time.Now()
	const snaps = 5
	for range snaps {
		d.Status(ctx)
	}
	snap := time.Since(start) / snaps
	fmt.Printf("BENCH|status page /, %d services x %d reals|render %.1f ms (+ snapshot %.1f ms)|-|%.2f MB of HTML; every service, realservers in service counted\n",
		benchServices, benchReals, ms2(render), ms2(snap), float64(size)/1e6)
	fmt.Printf("BENCH|status page /?reals=all, %d services x %d reals|render %.1f ms (+ snapshot %.1f ms)|-|%.1f MB of HTML\n",
		benchServices, benchReals, ms2(renderAll), ms2(snap), float64(sizeAll)/1e6)
}

// BenchmarkDaemonCPU runs a director of 1,000 services x 10 realservers
// on a loopback listener and has another process (this test binary, as
// TestHelperScraper) scrape it once a second for 30 s windows, as
// Prometheus would (gzip, decompressed and parsed on its side). The
// figure is this process's CPU time over the wall time: the scrapes, the
// socket, the garbage collector and everything else the daemon does
// meanwhile, not the scraper's work. An idle window of the same length
// before each gives the daemon's cost without scrapes: the periodic
// reconcile of the IPVS table (every 30 s by default, ~50 ms at this
// size) falls in each window alike. The farm's checks are "none": the
// health checks' own cost (probes, sockets) is in neither figure. The
// collector's target is lvsd run's (DefaultGCPercent).
//
// It runs twice: on a farm whose values stand still (checkedFarm: a
// scrape sends most families' compressed lines of the last scrape again)
// and on a live one (liveFarm: check results every 2 s per realserver
// and traffic on every destination, so that most families change between
// scrapes, as on a farm in service).
func BenchmarkDaemonCPU(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(DefaultGCPercent))
	for range b.N {
		daemonCPU(b, checkedFarm(b), "values standing still")
		daemonCPU(b, liveFarm(b), "a live farm: every realserver checked every 2 s (the runner, no probe sent), traffic on every destination")
	}
}

func daemonCPU(b *testing.B, d *Director, farmNote string) {
	// Windows of 30 s: the periodic reconcile falls once in each. The
	// idle and busy windows alternate, cpuPairs times, and the scrapes'
	// share is each busy window's less the idle one before it: a live
	// farm's own work (checks, traffic) drifts, and one idle window
	// measured before one busy one gave the scrapes 0.90% to 1.42% of a
	// core in four runs.
	const windowSeconds = 30
	pairs := cpuPairs()
	url := "http://" + d.web.Addrs()[0] + "/metrics"
	scrape(b, d)
	runtime.GC()
	type use struct{ share, user, sys, allocMB float64 }
	measure := func(f func()) use {
		u0, s0 := cpuTimes()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		t0 := time.Now()
		f()
		wall := time.Since(t0).Seconds()
		u1, s1 := cpuTimes()
		runtime.ReadMemStats(&m1)
		return use{((u1 - u0) + (s1 - s0)).Seconds() / wall, (u1 - u0).Seconds() / wall, (s1 - s0).Seconds() / wall,
			float64(m1.TotalAlloc-m0.TotalAlloc) / 1e6 / wall}
	}
	if dir := os.Getenv("LVSD_BENCH_CPUPROFILE"); dir != "" { // a profile of every window, for work on it
		f, err := os.CreateTemp(dir, "daemon-cpu-*.prof")
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		fmt.Printf("CPU profile of the windows (%s): %s\n", farmNote, f.Name())
		defer pprof.StopCPUProfile()
	}
	var out []byte
	var idles, busies, scrapes []float64
	var lastBusy, lastIdle use
	for range pairs {
		lastIdle = measure(func() { time.Sleep(windowSeconds * time.Second) })
		lastBusy = measure(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperScraper$", "-test.count=1")
			cmd.Env = append(os.Environ(), "LVSD_SCRAPE_URL="+url, "LVSD_SCRAPES="+strconv.Itoa(windowSeconds))
			var err error
			if out, err = cmd.CombinedOutput(); err != nil {
				b.Fatalf("scraper: %v\n%s", err, out)
			}
		})
		idles, busies = append(idles, 100*lastIdle.share), append(busies, 100*lastBusy.share)
		scrapes = append(scrapes, 100*(lastBusy.share-lastIdle.share))
	}
	fmt.Printf("BENCH|lvsd's CPU while scraped once a second (by another process), %d x %d, %s|%.2f%% of a core (idle: %.2f%%; the scrapes: %.2f%%, median of %d)|< %.0f%%|the scrapes in each pair %s; user %.2f%%, system %.2f%%, %.1f MB/s allocated (idle %.1f) in the last; %s; checks none; GOGC %d; machine shared\n",
		benchServices, benchReals, farmNote, median(busies), median(idles), median(scrapes), pairs, 100*budgetShare,
		percents(scrapes), 100*lastBusy.user, 100*lastBusy.sys, lastBusy.allocMB, lastIdle.allocMB, strings.TrimSpace(lastLine(out)), DefaultGCPercent)
}

// cpuPairs is how many idle and busy windows BenchmarkDaemonCPU
// alternates: LVSD_BENCH_CPU_PAIRS, 3 by default.
func cpuPairs() int {
	if n, err := strconv.Atoi(os.Getenv("LVSD_BENCH_CPU_PAIRS")); err == nil && n > 0 {
		return n
	}
	return 3
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percents(v []float64) string {
	var p []string
	for _, x := range v {
		p = append(p, fmt.Sprintf("%.2f%%", x))
	}
	return "[" + strings.Join(p, " ") + "]"
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "scraped ") {
			return l
		}
	}
	return ""
}

// TestHelperScraper is BenchmarkDaemonCPU's scraper, in its own process;
// it does nothing in a normal test run.
func TestHelperScraper(t *testing.T) {
	url, n := os.Getenv("LVSD_SCRAPE_URL"), os.Getenv("LVSD_SCRAPES")
	if url == "" {
		t.Skip("the scraper of BenchmarkDaemonCPU")
	}
	scrapes, _ := strconv.Atoi(n)
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 10 * time.Second}
	start := time.Now()
	var wire, text int64
	for i := range scrapes {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second)))
		req, _ := http.NewRequest("GET", url, nil)
		req.Header = prometheusRequest(url).Header
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		cr := &countingReader{r: resp.Body}
		zr, err := gzip.NewReader(cr)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, zr)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		wire, text = wire+cr.n, text+n
	}
	fmt.Printf("scraped %.1f MB of text as %.2f MB a scrape\n", float64(text)/float64(scrapes)/1e6, float64(wire)/float64(scrapes)/1e6)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
