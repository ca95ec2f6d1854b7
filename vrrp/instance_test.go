package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestNewNodeChecksConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *InstanceConfig)
		want string // in the error; empty: valid
	}{
		{"valid", func(c *InstanceConfig) {}, ""},
		{"ipv6", func(c *InstanceConfig) { c.VIPs = []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")} }, ""},
		{"no name", func(c *InstanceConfig) { c.Name = "" }, "needs a name"},
		{"no vips", func(c *InstanceConfig) { c.VIPs = nil }, "no virtual addresses"},
		{"mixed families", func(c *InstanceConfig) {
			c.VIPs = append(c.VIPs, netip.MustParsePrefix("2001:db8::1/64"))
		}, "one family"},
		{"invalid", func(c *InstanceConfig) { c.VIPs = []netip.Prefix{{}} }, "need valid addresses"},
		{"v2 ipv6", func(c *InstanceConfig) {
			c.Version, c.AdvertInterval = 2, time.Second
			c.VIPs = []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}
		}, "IPv4 only"},
		{"v3 password", func(c *InstanceConfig) { c.AuthPass = "secret" }, "needs version 2"},
		{"v2 subsecond", func(c *InstanceConfig) { c.Version = 2 }, "advert interval"},
		{"vrid 0", func(c *InstanceConfig) { c.VRID = 0 }, "vrid 0"},
		{"peer family", func(c *InstanceConfig) { c.Unicast.Peers = []netip.Addr{netip.MustParseAddr("2001:db8::2")} }, "not of the family"},
		{"weight", func(c *InstanceConfig) { c.TrackInterfaces = []TrackInterface{{"eth1", -300}} }, "weight"},
		{"script", func(c *InstanceConfig) { c.TrackScripts = []TrackScript{{Name: "x"}} }, "need a name, a command"},
		{"announce", func(c *InstanceConfig) { c.Announce.Repeat = -1 }, "announce"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := nodeConfig()
			tc.edit(&cfg)
			_, err := NewNode(cfg, Deps{})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestInstanceDefaults(t *testing.T) {
	c := InstanceConfig{TrackScripts: []TrackScript{{Name: "x", Command: []string{"true"}, Interval: 2 * time.Second}}}.withDefaults()
	got := fmt.Sprint(c.Version, c.AdvertInterval, c.Announce.Repeat, c.Announce.Interval,
		c.TrackScripts[0].Timeout, c.TrackScripts[0].Rise, c.TrackScripts[0].Fall)
	if want := "3 1s 3 1s 2s 1 1"; got != want {
		t.Errorf("defaults %s, want %s", got, want)
	}
}

func TestNodeOwnerStartsMaster(t *testing.T) {
	cfg := nodeConfig()
	cfg.Priority = 255
	h := newHarness(t, cfg)
	h.run()
	// No removal first: the owner takes the VIPs at once (RFC 5798 §6.4.1).
	want := "[send 255 to 224.0.0.18 add 192.0.2.100/24 add 192.0.2.101/24 announce 192.0.2.100 announce 192.0.2.101]"
	if fmt.Sprint(h.startOps) != want {
		t.Errorf("start: %q, want %s", h.startOps, want)
	}
}

func TestMachineTakeover(t *testing.T) {
	m, err := NewMachine(baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	if acts := m.Takeover(t0, "group"); acts != nil {
		t.Errorf("Takeover in INIT: %v", acts)
	}
	m.Start(t0)
	m.Receive(t0, Advert{Version: 3, Type: 1, VRID: 1, Priority: 200, Interval: time.Second, From: higher})
	acts := m.Takeover(t0.Add(time.Second), "group")
	want := []Action{SendAdvert{100}, AcquireVIPs{}, Became{Master, "group"}}
	if !sameActions(acts, want) || m.State() != Master || m.Deadline() != t0.Add(2*time.Second) {
		t.Errorf("Takeover in BACKUP: %v, state %v, deadline %v", acts, m.State(), m.Deadline())
	}
	if acts := m.Takeover(t0.Add(time.Second), "again"); acts != nil {
		t.Errorf("Takeover in MASTER: %v", acts)
	}
}
