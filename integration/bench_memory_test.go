//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// The table of the memory benchmarks (BenchmarkMemoryBigTable here,
// BenchmarkIPVSMemoryVsKeepalived in the VM): memServices services of
// memReals realservers each, every one TCP-checked every second.
const (
	memServices = 10000
	memReals    = 10
	// Long enough for the heap to grow back to its goal after the
	// start's, and for the window to hold a periodic reconcile (every
	// 30 s), which reads the whole table back.
	memWarm    = 30 * time.Second
	memMeasure = 30 * time.Second
	memGoalMiB = 150
)

// kahListenN is kahListen for the first n TCP targets.
func kahListenN(l *netlab.T, ns string, n int) *hcbAcceptor {
	var a *hcbAcceptor
	if err := <-l.Go(ns, func() (err error) { a, err = hcbNewAcceptor(n); return err }); err != nil {
		l.TB.Fatalf("listen in %s: %v", ns, err)
	}
	l.TB.Cleanup(a.close)
	return a
}

// memConfig writes lvsd's main file, with director.memory_limit set to
// limit unless it is "", and one file per service: service i has VIP
// 192.0.2.(1+i%250) port 1000+i/250 and the realservers
// hcbTargetAddr(10i..10i+9) modulo the 10,000 targets, so that each
// target is checked by memReals*memServices/hcbTCPs services.
func memConfig(l *netlab.T, limit string) string {
	main := "node: mem\ncontrol: {socket: ctl.sock}\nhttp: {listen: \"\"}\n"
	if limit != "" {
		main += "director: {memory_limit: " + limit + "}\n"
	}
	conf := l.Write("lvsd/lvsd.yaml", main)
	l.Mkdir("lvsd/services.d")
	for i := range memServices {
		var f strings.Builder
		fmt.Fprintf(&f, "name: s%d\nvirtual: 192.0.2.%d:%d\nforward: nat\ncheck: {type: tcp, interval: 1s, timeout: 1s}\nreals:\n",
			i, 1+i%250, 1000+i/250)
		for r := range memReals {
			fmt.Fprintf(&f, "  - address: %v\n", hcbTargetAddr(false, (i*memReals+r)%hcbTCPs))
		}
		l.Write(fmt.Sprintf("lvsd/services.d/s%05d.yaml", i), f.String())
	}
	return conf
}

// memCheckApplied asks the lvsd on sock, once the figures are taken,
// whether its table holds every service.
func memCheckApplied(sock string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s api.Status
	if err := api.Call(ctx, sock, "status", nil, &s); err != nil {
		return fmt.Errorf("lvsd status: %w", err)
	}
	if len(s.IPVS.Services) != memServices || s.Reals != memServices*memReals {
		return fmt.Errorf("lvsd holds %d services of %d realservers, want %d of %d", len(s.IPVS.Services), s.Reals, memServices, memServices*memReals)
	}
	return nil
}

// memLiveHeap is the live heap after the last garbage collection that
// log (GODEBUG=gctrace=1) reports, the heap goal it set and the share of
// CPU the collector took since the start: "gc N @Ts P%: ... A->B->C MB,
// G MB goal, ...", "C MB (goal G MB; GC P% of CPU)".
func memLiveHeap(log string) string {
	i := strings.LastIndex(log, " MB goal")
	if i < 0 {
		return "?"
	}
	line := log[strings.LastIndex(log[:i], "\n")+1 : i]
	f := strings.Fields(strings.ReplaceAll(line, ",", ""))
	if len(f) < 6 || f[len(f)-2] != "MB" || !strings.HasPrefix(f[0], "gc") {
		return "?"
	}
	parts := strings.Split(f[len(f)-3], "->")
	return fmt.Sprintf("%s MB (goal %s MB; GC %s of CPU)", parts[len(parts)-1], f[len(f)-1], strings.TrimSuffix(f[3], ":"))
}

// memStatus reads a field (in KiB) of /proc/PID/status.
func memStatus(pid int, field string) int64 {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// memRSS is the resident memory of some processes over a window: the
// mean of their summed VmRSS, sampled every second, and the sum of their
// VmHWM (each one's peak since it started, so for several processes an
// upper bound of their peak together), in KiB.
type memRSS struct {
	Mean, Peak float64
}

// MiB renders the figure as the benchmarks' tables show it.
func (m memRSS) MiB() string {
	return fmt.Sprintf("%.0f MiB (peak %.0f MiB)", m.Mean/1024, m.Peak/1024)
}

// memWatch samples the summed VmRSS of pids every second for d, then
// reads their VmHWM.
func memWatch(d time.Duration, pids ...int) memRSS {
	var sum, n float64
	for t0 := time.Now(); time.Since(t0) < d; {
		time.Sleep(time.Second)
		for _, pid := range pids {
			sum += float64(memStatus(pid, "VmRSS:"))
		}
		n++
	}
	var m memRSS
	if n > 0 {
		m.Mean = sum / n
	}
	for _, pid := range pids {
		m.Peak += float64(memStatus(pid, "VmHWM:"))
	}
	return m
}

// memKeepalivedConfig is keepalived's configuration of the same table as
// memConfig's: virtual_server i with the same VIP, port and realservers,
// each real_server TCP-checked every second (delay_loop 1, connect
// timeout 1 s), NAT, round robin.
func memKeepalivedConfig() string {
	var c strings.Builder
	c.WriteString("global_defs {\n    router_id mem\n}\n")
	for i := range memServices {
		fmt.Fprintf(&c, "virtual_server 192.0.2.%d %d {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n",
			1+i%250, 1000+i/250)
		for r := range memReals {
			t := hcbTargetAddr(false, (i*memReals+r)%hcbTCPs)
			fmt.Fprintf(&c, "    real_server %v %d {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n",
				t.Addr(), t.Port())
		}
		c.WriteString("}\n")
	}
	return c.String()
}
