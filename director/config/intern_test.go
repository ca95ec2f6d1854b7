package config

import "testing"

// TestEqualChecksShared: services whose checks come out equal share one
// Check, as do realservers whose overrides come out equal to some other
// check; a different check keeps its own, and the values are as loaded.
func TestEqualChecksShared(t *testing.T) {
	svc := func(name, vip, check, real2 string) string {
		return "name: " + name + "\nvirtual: " + vip + "\nforward: nat\ncheck: " + check + "\nreals:\n" +
			"  - address: 198.51.100.11:8080\n  - address: 198.51.100.12:8080\n" + real2
	}
	files := map[string]string{
		"a.yaml": svc("a", "192.0.2.10:80", "{type: tcp, interval: 1s}", ""),
		"b.yaml": svc("b", "192.0.2.11:80", "{type: tcp, interval: 1s}", "    check: {interval: 2s}\n"),
		"c.yaml": svc("c", "192.0.2.12:80", "{type: tcp, interval: 2s}", ""),
		"d.yaml": svc("d", "192.0.2.13:80", "{type: http, interval: 1s}", ""),
	}
	cfg, err := Load(writeConfig(t, "node: a\n", files), Options{Host: fakeHost{}})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c, d := cfg.Services[0], cfg.Services[1], cfg.Services[2], cfg.Services[3]
	if a.Check != b.Check || a.Reals[0].Check != a.Check || b.Reals[0].Check != b.Check {
		t.Error("two services with equal checks: not one Check")
	}
	if b.Reals[1].Check != c.Check || c.Check.Interval.Seconds() != 2 {
		t.Errorf("a realserver's override equal to another service's check: not shared (%+v)", *b.Reals[1].Check)
	}
	if d.Check == a.Check || d.Check.Type != "http" || a.Check.Type != "tcp" {
		t.Error("a different check was shared")
	}
}
