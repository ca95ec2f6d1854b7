package director

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestHeapProfileBigTable is the in-process side of the integration
// benchmark BenchmarkMemoryBigTable: the same 10,000 services of 10
// realservers TCP-checked every second, run by a Director with an
// in-memory IPVS table, here with loopback listeners as realservers. It
// writes a heap profile after a warm-up (go tool pprof -top
// -sample_index=inuse_space) and logs the heap in use, to find where the
// daemon's memory goes. It is heavy (100,000 checks a second asked), so it
// runs only when LVSD_HEAPPROFILE names the profile's file;
// LVSD_HEAPPROFILE_WARM sets the warm-up (10s; 0s: the profile is taken
// once the table is applied, before a collection, to see the start's peak).
func TestHeapProfileBigTable(t *testing.T) {
	out := os.Getenv("LVSD_HEAPPROFILE")
	if out == "" {
		t.Skip("set LVSD_HEAPPROFILE=file to profile the heap of a 10,000-service table")
	}
	const services, reals, listeners = 10000, 10, 2000
	addrs := loopbackListeners(t, listeners)
	main := filepath.Join(t.TempDir(), "lvsd.yaml")
	write(t, main, "node: mem\ncontrol: {socket: lvsd.sock}\nhttp: {listen: \"\"}\n")
	svcDir := filepath.Join(filepath.Dir(main), "services.d")
	if err := os.Mkdir(svcDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range services {
		var f strings.Builder
		fmt.Fprintf(&f, "name: s%d\nvirtual: 192.0.2.%d:%d\nforward: nat\ncheck: {type: tcp, interval: 1s, timeout: 1s}\nreals:\n",
			i, 1+i%250, 1000+i/250)
		for r := range reals {
			fmt.Fprintf(&f, "  - address: %s\n", addrs[(i*reals+r)%listeners])
		}
		write(t, filepath.Join(svcDir, fmt.Sprintf("s%05d.yaml", i)), f.String())
	}
	// 2,000 listeners stand for the benchmark's 10,000 targets: a
	// realserver's entries do not depend on how many others share its
	// address, and the reals of one service stay distinct.
	warm := 10 * time.Second // every check has run several times
	if w, err := time.ParseDuration(os.Getenv("LVSD_HEAPPROFILE_WARM")); err == nil {
		warm = w // 0: the heap as the table is first applied, with what the start left
	}
	runFarm(t, main)
	time.Sleep(warm)
	if warm > 0 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("heap in use %d MiB, live objects %d", ms.HeapInuse>>20, ms.HeapObjects)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}

// loopbackListeners opens n TCP listeners on 127.0.0.1 that accept and
// close every connection, and returns their addresses.
func loopbackListeners(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		addrs[i] = l.Addr().String()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	return addrs
}
