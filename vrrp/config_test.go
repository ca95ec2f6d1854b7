package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // in the error; "" means valid
	}{
		{"base", func(*Config) {}, ""},
		{"version 2, whole seconds", func(c *Config) { c.Version, c.AdvertInterval = 2, 3*time.Second }, ""},
		{"v3 10ms", func(c *Config) { c.AdvertInterval = 10 * ms }, ""},
		{"owner", func(c *Config) { c.Priority = 255 }, ""},
		{"IPv6 self", func(c *Config) { c.Self = netip.MustParseAddr("fe80::1") }, ""},
		{"vrid 0", func(c *Config) { c.VRID = 0 }, "vrid 0"},
		{"priority 0", func(c *Config) { c.Priority = 0 }, "priority 0"},
		{"version 4", func(c *Config) { c.Version = 4 }, "version 4"},
		{"no interval", func(c *Config) { c.AdvertInterval = 0 }, "advert interval 0s"},
		{"v3 interval 15ms", func(c *Config) { c.AdvertInterval = 15 * ms }, "advert interval 15ms"},
		{"v3 interval 41s", func(c *Config) { c.AdvertInterval = 41 * time.Second }, "advert interval 41s"},
		{"v2 interval 1.5s", func(c *Config) { c.Version, c.AdvertInterval = 2, 1500*ms }, "advert interval 1.5s"},
		{"negative delay", func(c *Config) { c.PreemptDelay = -time.Second }, "must not be negative"},
		{"negative resign timeout", func(c *Config) { c.ResignTimeout = -time.Second }, "must not be negative"},
		{"no self", func(c *Config) { c.Self = netip.Addr{} }, "self invalid IP"},
		{"4in6 self", func(c *Config) { c.Self = netip.MustParseAddr("::ffff:192.0.2.1") }, "self ::ffff:192.0.2.1"},
		{"v2 IPv6 self", func(c *Config) { c.Version, c.Self = 2, netip.MustParseAddr("fe80::1") }, "IPv4 only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig()
			tt.change(&cfg)
			err := cfg.Check()
			m, merr := NewMachine(cfg)
			if tt.want == "" {
				if err != nil || merr != nil || m == nil {
					t.Fatalf("Check = %v, NewMachine = %v, %v; want valid", err, m, merr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "vrrp config: ") {
				t.Fatalf("Check = %v, want an error containing %q", err, tt.want)
			}
			if m != nil || merr == nil {
				t.Fatalf("NewMachine = %v, %v; want the Check error", m, merr)
			}
		})
	}
	// errors.Join reports every problem, not just the first.
	err := Config{}.Check()
	for _, want := range []string{"vrid 0", "priority 0", "advert interval", "self"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Config{}.Check() = %v, want it to mention %q", err, want)
		}
	}
}

func TestStatus(t *testing.T) {
	m, err := NewMachine(baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	m.Start(t0)
	m.Receive(t0.Add(time.Second), Advert{Version: 3, Priority: 150, Interval: 2 * time.Second, From: higher})
	want := Status{State: Backup, Priority: 100, MasterAdverInterval: 2 * time.Second, Master: higher,
		Deadline: t0.Add(time.Second + md100at2s)}
	if got := m.Status(); got != want {
		t.Fatalf("Status in Backup = %+v, want %+v", got, want)
	}
	m.Timeout(want.Deadline)
	m.Resign(want.Deadline)
	got := m.Status()
	if got.State != Resigning || got.Master != self || got.MasterAdverInterval != time.Second {
		t.Fatalf("Status while Resigning = %+v, want Resigning with Master %v and our interval", got, self)
	}
}

func TestStateString(t *testing.T) {
	want := map[State]string{Initialize: "INIT", Backup: "BACKUP", Master: "MASTER",
		Resigning: "RESIGNING", Fault: "FAULT", 9: "State(9)"}
	for s, name := range want {
		if s.String() != name {
			t.Errorf("State(%d).String() = %q, want %q", uint8(s), s.String(), name)
		}
		if s.HoldsVIPs() != (s == Master || s == Resigning) {
			t.Errorf("%v.HoldsVIPs() = %v", s, s.HoldsVIPs())
		}
	}
}

// TestOnesSum uses the worked example of RFC 1071 §3: the bytes
// 00 01 f2 03 f4 f5 f6 f7 sum to 0x2ddf0, folded 0xddf2, checksum 0x220d.
// An odd trailing byte counts as the high byte of a zero-padded word.
func TestOnesSum(t *testing.T) {
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if s := onesSum(0, b); s != 0x2ddf0 || fold(s) != 0xddf2 || ^fold(s) != 0x220d {
		t.Fatalf("onesSum = %#x, fold %#x: want 0x2ddf0, 0xddf2", s, fold(s))
	}
	if s := onesSum(0, []byte{0x12, 0x34, 0x56}); s != 0x1234+0x5600 {
		t.Fatalf("onesSum of odd length = %#x, want %#x", s, 0x1234+0x5600)
	}
}
