package director

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
)

const mainYAML = `node: test-node
control:
  socket: lvsd.sock
http:
  listen: ""
`

// No health check: these tests run outside any namespace and must not
// send packets to the documentation addresses.
const webYAML = `name: web
virtual: 192.0.2.10:80
forward: nat
check: {type: none}
reals:
  - address: 198.51.100.11:8080
`

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReloadKeepsServingOnBrokenConfig(t *testing.T) {
	dir := t.TempDir()
	svcDir := filepath.Join(dir, "services.d")
	if err := os.Mkdir(svcDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "lvsd.yaml"), mainYAML)
	write(t, filepath.Join(svcDir, "web.yaml"), webYAML)
	sw := &syncWriter{}
	logger := logrus.New()
	logger.SetOutput(sw)
	mem := ipvs.NewMemory()
	life := newLifecycle()
	d, err := New(filepath.Join(dir, "lvsd.yaml"), Options{
		Config: testOptions(), Log: logrus.NewEntry(logger), Version: "test",
		OpenIPVS:  func(*config.Config) (ipvs.IPVS, error) { return mem, nil },
		Sysctls:   offSysctls{},
		Sync:      &fakeSync{},
		Handover:  &fakeHandover{},
		Lifecycle: life.report,
	})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "lvsd.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hup := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, hup) }()

	status := func() api.Status {
		var s api.Status
		if err := api.Call(ctx, sock, "status", nil, &s); err != nil {
			t.Logf("status: %v", err)
			return api.Status{}
		}
		return s
	}
	life.await(t, "ready") // serving, with the IPVS table in place
	if s := status(); s.Generation != 1 || s.Node != "test-node" || s.Services != 1 || s.Reals != 1 {
		t.Errorf("status at start: %+v", s)
	}
	if n := len(status().IPVS.Services); n != 1 {
		t.Fatalf("%d IPVS services once ready, want 1", n)
	}
	w := strings.Join(status().Warnings, "\n")
	for _, want := range []string{"net.ipv4.ip_forward is \"0\", needs \"1\"", "net.ipv4.vs.expire_nodest_conn is \"0\", needs \"1\""} {
		if !strings.Contains(w, want) {
			t.Errorf("missing kernel setting %q not reported: %v", want, w)
		}
	}
	if s := status().IPVS.Services[0]; s.Key != "tcp 192.0.2.10:80" || len(s.Reals) != 1 || s.Reals[0].Weight != 1 {
		t.Errorf("ipvs status: %+v", s)
	}

	// A good change, by signal.
	apiYAML := strings.NewReplacer("web", "api", "192.0.2.10", "192.0.2.11").Replace(webYAML)
	write(t, filepath.Join(svcDir, "api.yaml"), apiYAML+"  - address: 198.51.100.12:8080\n")
	// lvsd diff shows what the reload would do, and does not do it.
	var plan api.DiffResult
	if err := api.Call(ctx, sock, "diff", nil, &plan); err != nil {
		t.Fatal(err)
	}
	if len(plan.Ops) != 3 || !strings.HasPrefix(plan.Ops[0], "add-service tcp 192.0.2.11:80") {
		t.Errorf("diff: %+v", plan)
	}
	if tb, _ := mem.Table(); len(tb) != 1 {
		t.Errorf("diff changed the table: %v", tb)
	}
	hup <- struct{}{}
	life.await(t, "reloading", "ready")
	if s := status(); s.Generation != 2 || s.Services != 2 || s.Reals != 3 || !s.LastReload.OK {
		t.Errorf("status after reload: %+v", s)
	}
	waitReconciled(t, d, "the reload to IPVS", func() bool { tb, _ := mem.Table(); return len(tb) == 2 })
	good := d.Current()

	// A broken change, through the control socket: rejected with its
	// file:line errors, and generation 2 keeps serving.
	write(t, filepath.Join(svcDir, "api.yaml"), strings.ReplaceAll(apiYAML, "address: 198.51.100.11:8080", "address: 198.51.100.11:8080\n    weight: ten"))
	var res api.ReloadResult
	if err := api.Call(ctx, sock, "reload", nil, &res); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(svcDir, "api.yaml") + `:7: reals[0].weight: "ten" is not a whole number`
	if res.OK || res.Generation != 2 || len(res.Errors) != 1 || res.Errors[0] != want {
		t.Errorf("broken reload: %+v\nwant error %s", res, want)
	}
	if d.Current() != good {
		t.Error("a rejected reload replaced the running configuration")
	}
	if s := status(); s.Generation != 2 || s.Services != 2 || s.LastReload.OK {
		t.Errorf("status after rejected reload: %+v", s)
	}
	if tb, _ := mem.Table(); len(tb) != 2 || len(tb[ipvs.KeyOf(good.Config.Services[0])].Dests) != 2 {
		t.Errorf("a rejected reload touched IPVS: %v", tb)
	}
	if l := sw.String(); !strings.Contains(l, "reload rejected") {
		t.Errorf("rejection not logged:\n%s", l)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
}

func TestNewRefusesBrokenConfig(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "lvsd.yaml"), "nodes: typo\n")
	_, err := New(filepath.Join(dir, "lvsd.yaml"), Options{Config: testOptions()})
	if err == nil || !strings.Contains(err.Error(), `lvsd.yaml:1: nodes: unknown key "nodes" (did you mean "node"?)`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSyncDaemonsFollowConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "services.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, onStop := range []string{"keep", "clear"} {
		write(t, filepath.Join(dir, "lvsd.yaml"), mainYAML+"sync: {interface: eth1, sync_id: 7}\ndirector: {on_stop: "+onStop+"}\n")
		fs, life := &fakeSync{}, newLifecycle()
		d, err := New(filepath.Join(dir, "lvsd.yaml"), Options{Config: testOptions(), Sync: fs, Sysctls: offSysctls{}, Handover: &fakeHandover{}, Lifecycle: life.report,
			OpenIPVS: func(*config.Config) (ipvs.IPVS, error) { return ipvs.NewMemory(), nil }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx, nil) }()
		life.await(t, "ready")
		fs.mu.Lock()
		master, backup := fs.running[ipvs.SyncMaster], fs.running[ipvs.SyncBackup]
		fs.mu.Unlock()
		if master != "eth1" || backup != "eth1" { // no VRRP: both run from the start
			t.Fatalf("sync daemons once ready: master on %q, backup on %q; want both on eth1", master, backup)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		fs.mu.Lock()
		left := len(fs.running)
		fs.mu.Unlock()
		if want := map[string]int{"keep": 2, "clear": 0}[onStop]; left != want {
			t.Errorf("on_stop %s: %d sync daemons left running, want %d", onStop, left, want)
		}
	}
}
