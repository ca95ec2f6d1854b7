package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeHost is a machine with only a loopback interface.
type fakeHost struct{}

func (fakeHost) Hostname() (string, error) { return "fakehost", nil }

func (fakeHost) InterfaceAddrs(name string) ([]netip.Addr, bool) {
	if name == "lo" {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}, true
	}
	return nil, false
}

// TestBroken loads every configuration under testdata/broken and compares
// the errors, in full, with the case's want file: each names the file, the
// line, the key and the reason.
func TestBroken(t *testing.T) {
	dirs, err := filepath.Glob("testdata/broken/*")
	if err != nil || len(dirs) < 20 {
		t.Fatalf("want at least 20 broken cases, found %d (%v)", len(dirs), err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			wantB, err := os.ReadFile(filepath.Join(dir, "want"))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(filepath.Join(dir, "lvsd.yaml"), Options{Host: fakeHost{}})
			if err == nil {
				t.Fatalf("loaded without error: %+v", cfg)
			}
			if cfg != nil {
				t.Error("a failed load must not return a config")
			}
			if _, ok := AsErrors(err); !ok {
				t.Errorf("error is %T, want Errors", err)
			}
			got := strings.ReplaceAll(err.Error(), dir+"/", "")
			want := strings.TrimSpace(string(wantB))
			if got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func writeConfig(t *testing.T, main string, services map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "services.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range services {
		if err := os.WriteFile(filepath.Join(dir, "services.d", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "lvsd.yaml")
	if err := os.WriteFile(path, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultsAndOverrides(t *testing.T) {
	path := writeConfig(t, `
vrrp:
  instances:
    - {name: v6, interface: eth0, vrid: 1, virtual_ips: ["2001:db8::10"]}
`, map[string]string{
		"web.yaml": `
name: web
virtual: "[2001:db8::10]:443"
forward: dr
persistence: {}
check: {type: https, path: /ping, interval: 3s}
reals:
  - address: "[2001:db8:1::11]:443"
  - address: "[2001:db8:1::12]:443"
    weight: 0
    check: {type: tcp, rise: 5}
`,
		".web.yaml.swp": "not yaml: [",
		"README":        "ignored: not a .yaml file",
	})
	cfg, err := Load(path, Options{Host: fakeHost{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Node != "fakehost" || cfg.LogLevel != "info" || cfg.HTTPListen != DefaultHTTPListen {
		t.Errorf("main defaults: node %q level %q listen %q", cfg.Node, cfg.LogLevel, cfg.HTTPListen)
	}
	if want := filepath.Join(filepath.Dir(path), "services.d"); cfg.ServicesDir != want {
		t.Errorf("services dir %q, want %q (relative to the main file)", cfg.ServicesDir, want)
	}
	in := cfg.Instances[0]
	if in.Version != 3 || in.Priority != 100 || in.AdvertInterval != time.Second || !in.Preempt || !in.IPv6() {
		t.Errorf("instance defaults: %+v", in)
	}
	if in.VIPs[0] != netip.MustParsePrefix("2001:db8::10/128") {
		t.Errorf("bare VIP gets a host prefix: %v", in.VIPs[0])
	}
	if len(cfg.Services) != 1 {
		t.Fatalf("services: %d, want 1 (hidden and non-yaml files skipped)", len(cfg.Services))
	}
	s := cfg.Services[0]
	if s.Scheduler != "wlc" || s.Protocol != "tcp" || !s.IPv6 || s.Persistence.Netmask != 128 || s.Persistence.Timeout != 300*time.Second {
		t.Errorf("service defaults: %+v %+v", s, s.Persistence)
	}
	r0, r1 := s.Reals[0], s.Reals[1]
	if r0.Weight != 1 || r0.Check.Type != "https" || r0.Check.Path != "/ping" || r0.Check.Interval != 3*time.Second {
		t.Errorf("real 0 inherits the service check: %+v", r0)
	}
	if r1.Weight != 0 || r1.Check.Type != "tcp" || r1.Check.Rise != 5 || r1.Check.Interval != 3*time.Second {
		t.Errorf("real 1 overrides type and rise, keeps the interval: %+v", r1.Check)
	}
}

func TestHTTPListenDisabled(t *testing.T) {
	path := writeConfig(t, "http:\n  listen: \"\"\n", nil)
	cfg, err := Load(path, Options{Host: fakeHost{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPListen != "" {
		t.Errorf("listen %q, want disabled", cfg.HTTPListen)
	}
}

// ownerHost owns 192.0.2.10 on eth0, so priority 255 is legitimate there.
type ownerHost struct{ fakeHost }

func (ownerHost) InterfaceAddrs(name string) ([]netip.Addr, bool) {
	if name == "eth0" {
		return []netip.Addr{netip.MustParseAddr("192.0.2.10")}, true
	}
	return nil, false
}

func TestOwnerPriority(t *testing.T) {
	path := writeConfig(t, `
vrrp:
  instances:
    - {name: own, interface: eth0, vrid: 1, priority: 255, virtual_ips: [192.0.2.10/24]}
`, nil)
	cfg, err := Load(path, Options{Host: ownerHost{}})
	if err != nil {
		t.Fatalf("owner with priority 255 refused: %v", err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %v", cfg.Warnings)
	}
	// The same file on a host without eth0 cannot be checked: a warning.
	cfg, err = Load(path, Options{Host: fakeHost{}})
	if err != nil || len(cfg.Warnings) != 1 {
		t.Fatalf("absent interface: err %v, warnings %v", err, cfg.Warnings)
	}
}

func TestMissingMainFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), Options{Host: fakeHost{}})
	if err == nil || !strings.Contains(err.Error(), "nope.yaml: cannot read: no such file or directory") {
		t.Fatalf("err = %v", err)
	}
}
