package director

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/healthcheck"
)

// farm writes a configuration of services x reals (no health check: no
// packet leaves) listening on listen, and returns its main file.
func farm(tb testing.TB, services, reals int, listen string) string {
	tb.Helper()
	return farmChecked(tb, services, reals, listen, "{type: none}")
}

// farmChecked is farm with every service's check as given.
func farmChecked(tb testing.TB, services, reals int, listen, check string) string {
	tb.Helper()
	dir := tb.TempDir()
	svcDir := filepath.Join(dir, "services.d")
	if err := os.Mkdir(svcDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	main := filepath.Join(dir, "lvsd.yaml")
	if err := os.WriteFile(main, fmt.Appendf(nil, "node: bench\ncontrol: {socket: lvsd.sock}\nhttp: {listen: %q}\n", listen), 0o644); err != nil {
		tb.Fatal(err)
	}
	for s := range services {
		var b strings.Builder
		fmt.Fprintf(&b, "name: svc%04d\nvirtual: 192.0.2.%d:%d\nforward: nat\ncheck: %s\nreals:\n", s, 1+s%250, 1000+s, check)
		for r := range reals {
			fmt.Fprintf(&b, "  - address: 198.51.%d.%d:8080\n", 100+r/250, 1+r%250)
		}
		if err := os.WriteFile(filepath.Join(svcDir, fmt.Sprintf("svc%04d.yaml", s)), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return main
}

// runFarm runs a Director on main until the test ends, and returns it
// once it serves.
func runFarm(tb testing.TB, main string) (*Director, <-chan error) {
	tb.Helper()
	return runFarmOn(tb, main, ipvs.NewMemory(), nil)
}

// runFarmOn is runFarm on the in-memory table mem, its checkers built by
// checkers (nil: healthcheck.New).
func runFarmOn(tb testing.TB, main string, mem *ipvs.Memory, checkers healthcheck.Factory) (*Director, <-chan error) {
	tb.Helper()
	l := logrus.New()
	l.SetLevel(logrus.ErrorLevel)
	life := newLifecycle()
	d, err := New(main, Options{Config: testOptions(), Log: logrus.NewEntry(l), Version: "test",
		OpenIPVS: func(*config.Config) (ipvs.IPVS, error) { return mem, nil },
		Sysctls:  offSysctls{}, Sync: &fakeSync{}, Handover: &fakeHandover{}, Lifecycle: life.report, Mode: ModeIPVSMemory, Checkers: checkers})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()
	tb.Cleanup(func() { cancel(); <-done })
	for {
		select {
		case st := <-life:
			if st == "ready" {
				return d, done
			}
		case err := <-done:
			tb.Fatalf("run: %v", err)
		case <-time.After(guard):
			tb.Fatal("not ready")
		}
	}
}

// freeAddr returns a loopback address with a port free a moment ago
// (http.listen refuses port 0).
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func scrape(tb testing.TB, d *Director) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	d.web.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestMetricsOfARunningDirector(t *testing.T) {
	d, _ := runFarm(t, farm(t, 2, 3, freeAddr(t)))
	out := scrape(t, d)
	for _, want := range []string{
		`lvsd_real_up{service="svc0001",local_address="192.0.2.2",local_port="1001",proto="TCP",local_mark="",remote_address="198.51.100.3",remote_port="8080"} 1`,
		`lvsd_real_weight{service="svc0000",local_address="192.0.2.1",local_port="1000",proto="TCP",local_mark="",remote_address="198.51.100.1",remote_port="8080"} 1`,
		`lvsd_ipvs_service_connections_total{service="svc0000",local_address="192.0.2.1",local_port="1000",proto="TCP",local_mark=""} 0`,
		`lvsd_ipvs_operations_total{op="add-dest"} 6`,
		"lvsd_config_generation 1",
		`lvsd_build_info{goversion=`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	// The address bound is in the status, and serves.
	s := d.Status(context.Background())
	if len(s.HTTP) != 1 || !strings.HasPrefix(s.HTTP[0], "127.0.0.1:") {
		t.Fatalf("status http %v", s.HTTP)
	}
}

func TestHTTPBindFailureStopsTheStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	d, err := New(farm(t, 1, 1, taken.Addr().String()), Options{Config: testOptions(),
		OpenIPVS: func(*config.Config) (ipvs.IPVS, error) { return ipvs.NewMemory(), nil },
		Sysctls:  offSysctls{}, Sync: &fakeSync{}, Handover: &fakeHandover{}, Mode: ModeIPVSMemory})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	err = d.Run(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "http.listen "+taken.Addr().String()) {
		t.Fatalf("run with a taken http.listen: %v, want an error naming it", err)
	}
}

func TestReloadWithAnUnbindableListenIsRejected(t *testing.T) {
	addr := freeAddr(t)
	main := farm(t, 1, 1, addr)
	d, _ := runFarm(t, main)
	before := d.web.Addrs()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	body, _ := os.ReadFile(main)
	bad := strings.Replace(string(body), fmt.Sprintf("%q", addr), fmt.Sprintf("%q", addr+", "+taken.Addr().String()), 1)
	if err := os.WriteFile(main, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	res, err := d.Reload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], taken.Addr().String()) {
		t.Fatalf("reload: %+v, want rejected naming %s", res, taken.Addr())
	}
	if got := d.web.Addrs(); len(got) != 1 || got[0] != before[0] {
		t.Errorf("addresses after the rejected reload %v, want %v", got, before)
	}
	out := scrape(t, d)
	for _, want := range []string{`lvsd_reloads_total{result="rejected"} 1`, "lvsd_config_last_reload_successful 0", "lvsd_config_generation 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
}
