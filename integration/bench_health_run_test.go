//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/integration/netlab"
)

// The realservers of BenchmarkHealthChecks: 100 addresses x 100 ports
// answer TCP connects, 10 x 100 answer HTTP.
const (
	hcbTCPAddrs, hcbTCPPorts, hcbTCPPort0    = 100, 100, 10000
	hcbHTTPAddrs, hcbHTTPPorts, hcbHTTPPort0 = 10, 100, 8000
	hcbTCPs, hcbHTTPs                        = hcbTCPAddrs * hcbTCPPorts, hcbHTTPAddrs * hcbHTTPPorts
	hcbEnvPhase                              = "LVSD_HCB_PHASE" // set: this process is a checker child
)

// hcbPhase is one run of the checker child: how many targets of each
// kind, checked every second, for Warm and then Measure.
type hcbPhase struct {
	Name          string
	TCP, HTTP     int
	Warm, Measure time.Duration
	Out           string // where the child writes its hcbResult
	Profile       string // "": no CPU profile of the measured window
}

// hcbResult is what one run (a checker child, or the C loop) measured
// over its window.
type hcbResult struct {
	Name        string
	Asked       int // checks per second
	Seconds     float64
	Done        int64 // results in the window
	HTTPDone    int64 // of which HTTP
	Failed      int64
	Skipped     int64 // runs not started: the previous one still going
	CPU         time.Duration
	Listeners   time.Duration // CPU of this process, which serves the listeners
	Machine     time.Duration // busy CPU of the whole machine (all cores)
	P50, P99    time.Duration // from the batch's due time to the result
	RSS, HWM    int64         // KiB
	Heap        int64         // KiB in use by the Go heap at the end
	GCs         uint32
	FirstErrors []string
}

// hcbRun runs one phase in a checker child inside ns and returns what it
// measured. LVSD_HCB_PROFILE names a directory for CPU profiles of the
// children's measured windows.
func hcbRun(l *netlab.T, ns string, p hcbPhase) hcbResult {
	b := l.TB
	file := strings.NewReplacer(" ", "", "#", "", "+", "-").Replace(p.Name)
	p.Out = filepath.Join(l.Dir, file+".json")
	if d := os.Getenv("LVSD_HCB_PROFILE"); d != "" {
		p.Profile = filepath.Join(d, file+".pprof")
	}
	spec, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	// The child is this binary again (see TestMain). ip netns exec and env
	// both exec, so its parent is this process, the listeners'
	// (hcbProcCPU).
	if _, err := l.Try(ns, "env", hcbEnvPhase+"="+string(spec), self); err != nil {
		b.Fatalf("checker %s: %v", p.Name, err)
	}
	raw, err := os.ReadFile(p.Out)
	if err != nil {
		b.Fatalf("checker %s: %v", p.Name, err)
	}
	var res hcbResult
	if err := json.Unmarshal(raw, &res); err != nil {
		b.Fatalf("checker %s: %v", p.Name, err)
	}
	return res
}

// hcbChild is the checker child's side (see TestMain): it runs the phase
// in hcbEnvPhase and writes what it measured where the phase says.
func hcbChild() error {
	var p hcbPhase
	if err := json.Unmarshal([]byte(os.Getenv(hcbEnvPhase)), &p); err != nil {
		return err
	}
	res, err := hcbCheck(p)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(res)
	return os.WriteFile(p.Out, raw, 0o600)
}

// hcbCheck runs the Runner on the phase's targets and measures its
// window: results, CPU, latency, memory.
func hcbCheck(p hcbPhase) (hcbResult, error) {
	rec := &hcbRecorder{}
	r, err := healthcheck.NewRunner(nil, nil, healthcheck.WithResults(rec.add))
	if err != nil {
		return hcbResult{}, err
	}
	defer r.Shutdown()
	var targets []healthcheck.Target
	check := healthcheck.Spec{Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 2, Initial: "up"}
	for i := range p.TCP {
		check.Type = "tcp"
		targets = append(targets, healthcheck.Target{Service: "tcp", Real: hcbTargetAddr(false, i), Check: new(check)})
	}
	for i := range p.HTTP {
		check.Type = "http"
		targets = append(targets, healthcheck.Target{Service: "http", Real: hcbTargetAddr(true, i), Check: new(check)})
	}
	if err := r.Set(targets); err != nil {
		return hcbResult{}, err
	}
	time.Sleep(p.Warm)
	if p.Profile != "" {
		f, err := os.Create(p.Profile)
		if err != nil {
			return hcbResult{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return hcbResult{}, err
		}
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, listeners0, machine0, start := hcbCPU(), hcbProcCPU(os.Getppid()), hcbMachine(), time.Now()
	rec.window(start, p.Measure)
	time.Sleep(p.Measure)
	cpu, listeners, machine := hcbCPU()-cpu0, hcbProcCPU(os.Getppid())-listeners0, hcbMachine()-machine0
	time.Sleep(time.Second + 500*time.Millisecond) // the window's last checks end (timeout 1 s)
	res := rec.result()
	res.CPU, res.Listeners, res.Machine, res.Seconds = cpu, listeners, machine, p.Measure.Seconds()
	if p.Profile != "" {
		pprof.StopCPUProfile()
	}
	runtime.ReadMemStats(&ms1)
	res.Name, res.Asked, res.GCs = p.Name, p.TCP+p.HTTP, ms1.NumGC-ms0.NumGC
	res.RSS, res.HWM, res.Heap = hcbStatus("VmRSS:"), hcbStatus("VmHWM:"), int64(ms1.HeapInuse>>10)
	return res, nil
}

// hcbRecorder is the Runner's result hook. It counts the runs due in the
// measured window, whenever their results come, and keeps a histogram of
// their latency in 50 µs steps up to 2 s.
type hcbRecorder struct {
	from, to              atomic.Int64 // the window, in Unix ns; empty until set
	done, failed, skipped atomic.Int64
	http                  atomic.Int64 // of done
	hist                  [40000]atomic.Int64
	mu                    sync.Mutex
	errs                  []string // the first few failures
}

const hcbStep = 50 * time.Microsecond

func (h *hcbRecorder) window(from time.Time, d time.Duration) {
	h.from.Store(from.UnixNano()) // then to: an empty window until both are set
	h.to.Store(from.Add(d).UnixNano())
}

func (h *hcbRecorder) add(r healthcheck.Result) {
	if due := r.Due.UnixNano(); due < h.from.Load() || due >= h.to.Load() {
		return
	}
	if r.Skipped {
		h.skipped.Add(1)
		return
	}
	h.done.Add(1)
	if r.Service == "http" {
		h.http.Add(1)
	}
	if r.Err != nil && h.failed.Add(1) <= 5 {
		h.mu.Lock()
		h.errs = append(h.errs, r.Err.Error())
		h.mu.Unlock()
	}
	i := min(int(r.Done.Sub(r.Due)/hcbStep), len(h.hist)-1)
	h.hist[max(i, 0)].Add(1)
}

func (h *hcbRecorder) result() hcbResult {
	res := hcbResult{Done: h.done.Load(), HTTPDone: h.http.Load(), Failed: h.failed.Load(), Skipped: h.skipped.Load()}
	h.mu.Lock()
	res.FirstErrors = slices.Clone(h.errs)
	h.mu.Unlock()
	var total, seen int64
	for i := range h.hist {
		total += h.hist[i].Load()
	}
	for i := range h.hist {
		seen += h.hist[i].Load()
		at := time.Duration(i+1) * hcbStep
		if res.P50 == 0 && seen*2 >= total && total > 0 {
			res.P50 = at
		}
		if res.P99 == 0 && seen*100 >= total*99 && total > 0 {
			res.P99 = at
		}
	}
	return res
}

// hcbCPU is this process's user and system CPU time so far.
func hcbCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// hcbStatus reads a KiB figure from /proc/self/status.
func hcbStatus(field string) int64 {
	raw, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// hcbProcCPU is the user and system CPU time of process pid (the
// listeners' process, for a child, whose parent it is: ip netns exec
// execs).
func hcbProcCPU(pid int) time.Duration {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(raw, ')') // the command may hold spaces
	f := strings.Fields(string(raw[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// hcbMachine is the busy CPU time of all cores so far (/proc/stat).
func hcbMachine() time.Duration {
	raw, _ := os.ReadFile("/proc/stat")
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	f := strings.Fields(string(line))
	var busy int64
	for i, v := range f[1:min(len(f), 9)] { // user nice system idle iowait irq softirq steal
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / 100
}

// hcbBuildFloor compiles healthcheck/cfloor/connect_loop.c and writes the
// TCP targets for it twice: in order, and shuffled as lvsd's phase hash
// scatters them. The order matters to the kernel's caches: the loop costs
// several µs more per connect visiting the listeners scattered.
func hcbBuildFloor(dir string) (string, error) {
	bin := filepath.Join(dir, "connect_loop")
	if out, err := exec.Command("gcc", "-O2", "-o", bin, "../healthcheck/cfloor/connect_loop.c").CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc: %v: %s", err, out)
	}
	for file, order := range map[string][]int{
		".inorder":  nil,
		".shuffled": mrand.New(mrand.NewPCG(1, 2)).Perm(hcbTCPs),
	} {
		var list strings.Builder
		for i := range hcbTCPs {
			if order != nil {
				i = order[i]
			}
			a := hcbTargetAddr(false, i)
			fmt.Fprintf(&list, "%v %d\n", a.Addr(), a.Port())
		}
		if err := os.WriteFile(bin+file, []byte(list.String()), 0o600); err != nil {
			return "", err
		}
	}
	return bin, nil
}

// hcbFloor runs the C loop in ns against the TCP listeners at the
// Runner's rate, 2 s of warm-up and 8 measured, closing with a RST as
// lvsd does (rst) or with a plain close, visiting the targets shuffled or
// in order.
func hcbFloor(l *netlab.T, ns, bin, name string, rst, inOrder bool) hcbResult {
	b := l.TB
	linger0 := map[bool]string{true: "1", false: "0"}[rst]
	tf := bin + ".shuffled"
	if inOrder {
		tf = bin + ".inorder"
	}
	logName := "floor-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	p := l.Start(ns, logName, bin, tf, strconv.Itoa(hcbTCPs), "2", "8", "1000", linger0)
	time.Sleep(2 * time.Second) // the loop's warm-up
	listeners0, machine0 := hcbCPU(), hcbMachine()
	if err := p.Wait(); err != nil {
		b.Fatalf("connect_loop: %v\n%s", err, l.LogOf(logName))
	}
	out := l.LogOf(logName)
	res := hcbResult{Name: name, Asked: hcbTCPs, Listeners: hcbCPU() - listeners0, Machine: hcbMachine() - machine0}
	var ok, bad, timeouts, cpu int64
	if _, err := fmt.Sscanf(out, "ok=%d err=%d timeout=%d cpu_us=%d", &ok, &bad, &timeouts, &cpu); err != nil {
		b.Fatalf("connect_loop: %v: %q", err, out)
	}
	res.Seconds, res.Done, res.Failed = 8, ok+bad+timeouts, bad+timeouts
	res.CPU = time.Duration(cpu) * time.Microsecond
	return res
}

// hcbPerCheck is the CPU per result over runs.
func hcbPerCheck(runs ...hcbResult) float64 {
	var cpu time.Duration
	var n int64
	for _, r := range runs {
		cpu, n = cpu+r.CPU, n+r.Done
	}
	if n == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(n)
}
