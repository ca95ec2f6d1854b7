package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The tests drive a Machine with made-up times: t0 plus an offset.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	self   = netip.MustParseAddr("192.0.2.10")
	lower  = netip.MustParseAddr("192.0.2.5")  // a peer whose address is less than ours
	higher = netip.MustParseAddr("192.0.2.20") // a peer whose address is greater than ours
)

// Timer values for AdvertInterval 1s, worked out from RFC 5798 §6.1:
// Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256 and
// Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time.
const (
	ms = time.Millisecond
	us = time.Microsecond

	skew100 = 609375 * us // (256-100)/256 * 1s = 156/256 s
	md100   = 3*time.Second + skew100
	skew200 = 218750 * us // 56/256 s
	md200   = 3*time.Second + skew200
	md255   = 3*time.Second + 3906250*time.Nanosecond // 1/256 s
	// With a learned Master_Adver_Interval of 2s at priority 100:
	skew100at2s = 1218750 * us // 156*2/256 s
	md100at2s   = 6*time.Second + skew100at2s

	none = time.Duration(-1) // "Deadline is the zero Time"
)

func baseConfig() Config {
	return Config{VRID: 1, Priority: 100, AdvertInterval: time.Second, Preempt: true, Self: self}
}

// ev is one input to a Machine.
type ev struct {
	name string
	fn   func(m *Machine, now time.Time) []Action
}

func start() ev { return ev{"Start", (*Machine).Start} }

func timeout() ev { return ev{"Timeout", (*Machine).Timeout} }

func shutdown() ev { return ev{"Shutdown", (*Machine).Shutdown} }

func resign() ev { return ev{"Resign", (*Machine).Resign} }

func clearFault() ev { return ev{"ClearFault", (*Machine).ClearFault} }

func fault(reason string) ev {
	return ev{"SetFault", func(m *Machine, now time.Time) []Action { return m.SetFault(now, reason) }}
}

func setPrio(p uint8) ev {
	return ev{fmt.Sprintf("SetPriority(%d)", p), func(m *Machine, now time.Time) []Action { return m.SetPriority(now, p) }}
}

// recv delivers an advert with priority p from a peer whose interval is 1s.
func recv(p uint8, from netip.Addr) ev { return recvInt(p, from, time.Second) }

func recvInt(p uint8, from netip.Addr, iv time.Duration) ev {
	a := Advert{Version: 3, Type: 1, VRID: 1, Priority: p, Interval: iv, From: from}
	return ev{fmt.Sprintf("Receive(prio %d from %v every %v)", p, from, iv),
		func(m *Machine, now time.Time) []Action { return m.Receive(now, a) }}
}

// step is one event at t0+at and what must follow from it.
type step struct {
	at       time.Duration
	ev       ev
	want     []Action // Became.Reason matches if it contains the wanted one
	state    State
	deadline time.Duration // t0 + deadline, or none
	prio     uint8         // effective priority, unless 0
}

// machineCase is a row of a transition table.
type machineCase struct {
	name  string // cites the RFC subsection whose rule it checks
	cfg   func(*Config)
	steps []step
}

func runMachineCases(t *testing.T, cases []machineCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			m, err := NewMachine(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				checkStep(t, i, m, s)
			}
		})
	}
}

func checkStep(t *testing.T, i int, m *Machine, s step) {
	t.Helper()
	got := s.ev.fn(m, t0.Add(s.at))
	where := fmt.Sprintf("step %d, %s at %v", i, s.ev.name, s.at)
	if !sameActions(got, s.want) {
		t.Fatalf("%s: actions\n got %v\nwant %v", where, got, s.want)
	}
	if m.State() != s.state {
		t.Fatalf("%s: state %v, want %v", where, m.State(), s.state)
	}
	want := time.Time{}
	if s.deadline != none {
		want = t0.Add(s.deadline)
	}
	if d := m.Deadline(); !d.Equal(want) {
		t.Fatalf("%s: deadline %v, want %v", where, d.Sub(t0), s.deadline)
	}
	if s.prio != 0 && m.Priority() != s.prio {
		t.Fatalf("%s: priority %d, want %d", where, m.Priority(), s.prio)
	}
}

// sameActions compares action lists; a wanted Became matches a got one of
// the same state whose reason contains the wanted reason.
func sameActions(got, want []Action) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, gok := got[i].(Became)
		w, wok := want[i].(Became)
		switch {
		case gok && wok:
			if g.State != w.State || g.Reason == "" || !strings.Contains(g.Reason, w.Reason) {
				return false
			}
		case got[i] != want[i]:
			return false
		}
	}
	return true
}

// asMaster is the prefix of steps that makes a priority-100 Machine master
// at t0+md100, through §6.4.1 and §6.4.2.
func asMaster() []step {
	return []step{
		{0, start(), []Action{Became{Backup, "startup"}}, Backup, md100, 0},
		{md100, timeout(), []Action{SendAdvert{100}, AcquireVIPs{}, Became{Master, "master down interval expired"}},
			Master, md100 + time.Second, 0},
	}
}

func then(prefix []step, rest ...step) []step { return append(prefix, rest...) }

// TestMachineRFC5798 has a row for every transition and every rule of
// RFC 5798 §6.4.
func TestMachineRFC5798(t *testing.T) {
	owner := func(c *Config) { c.Priority = 255 }
	runMachineCases(t, []machineCase{
		{name: "§6.4.1 startup below 255: Backup, Master_Down_Timer = Master_Down_Interval", steps: []step{
			{0, start(), []Action{Became{Backup, "startup"}}, Backup, md100, 0},
		}},
		{name: "§6.4.1 startup as owner: advertise, announce, Adver_Timer, Master", cfg: owner, steps: []step{
			{0, start(), []Action{SendAdvert{255}, AcquireVIPs{}, Became{Master, "address owner"}}, Master, time.Second, 0},
		}},
		{name: "§6.4.1 Initialize ignores everything but Startup", steps: []step{
			{0, recv(200, higher), nil, Initialize, none, 0},
			{1 * time.Second, timeout(), nil, Initialize, none, 0},
			{2 * time.Second, resign(), nil, Initialize, none, 0},
			{3 * time.Second, shutdown(), nil, Initialize, none, 0},
			{4 * time.Second, clearFault(), nil, Initialize, none, 0},
			{5 * time.Second, start(), []Action{Became{Backup, "startup"}}, Backup, 5*time.Second + md100, 0},
			{6 * time.Second, start(), nil, Backup, 5*time.Second + md100, 0},
		}},
		{name: "§6.4.2 Master_Down_Timer fires: advertise, announce, Master", steps: asMaster()},
		{name: "§6.4.2 Timeout before Master_Down_Timer is a no-op", steps: []step{
			{0, start(), []Action{Became{Backup, "startup"}}, Backup, md100, 0},
			{3 * time.Second, timeout(), nil, Backup, md100, 0},
		}},
		{name: "§6.4.2 priority 0: Master_Down_Timer = Skew_Time", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{time.Second, recv(0, higher), nil, Backup, time.Second + skew100, 0},
			{time.Second + skew100, timeout(), []Action{SendAdvert{100}, AcquireVIPs{}, Became{Master, "master down: it sent priority 0"}},
				Master, 2*time.Second + skew100, 0},
		}},
		{name: "§6.4.2 higher priority: reset Master_Down_Timer", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{time.Second, recv(150, lower), nil, Backup, time.Second + md100, 0},
			{2 * time.Second, recv(150, lower), nil, Backup, 2*time.Second + md100, 0},
		}},
		{name: "§6.4.2 equal priority is accepted whatever the address", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{time.Second, recv(100, lower), nil, Backup, time.Second + md100, 0},
		}},
		{name: "§6.4.2 learn Master_Adver_Interval, recompute Master_Down_Interval and Skew_Time", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{time.Second, recvInt(150, higher, 2*time.Second), nil, Backup, time.Second + md100at2s, 0},
			{2 * time.Second, recv(0, higher), nil, Backup, 2*time.Second + skew100at2s, 0},
		}},
		{name: "§6.4.2 Preempt_Mode false: lower priority accepted, interval learned",
			cfg: func(c *Config) { c.Preempt = false }, steps: []step{
				{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
				{time.Second, recvInt(50, higher, 2*time.Second), nil, Backup, time.Second + md100at2s, 0},
				{100 * time.Second, recvInt(50, higher, 2*time.Second), nil, Backup, 100*time.Second + md100at2s, 0},
			}},
		{name: "§6.4.2 Preempt_Mode true: lower priority discarded, timer runs out, Master", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{time.Second, recv(50, higher), nil, Backup, md100, 0},
			{3 * time.Second, recv(99, higher), nil, Backup, md100, 0},
			{md100, timeout(), []Action{SendAdvert{100}, AcquireVIPs{}, Became{Master, "master down"}}, Master, md100 + time.Second, 0},
		}},
		{name: "§6.4.2 Shutdown in Backup: cancel timer, Initialize", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{time.Second, shutdown(), []Action{Became{Initialize, "shutdown"}}, Initialize, none, 0},
			{2 * time.Second, start(), []Action{Became{Backup, "startup"}}, Backup, 2*time.Second + md100, 0},
		}},
		{name: "§6.4.3 Adver_Timer fires: advertise, reset Adver_Timer", steps: then(asMaster(),
			step{md100 + 500*ms, timeout(), nil, Master, md100 + time.Second, 0},
			step{md100 + time.Second, timeout(), []Action{SendAdvert{100}}, Master, md100 + 2*time.Second, 0},
			step{md100 + 2*time.Second, timeout(), []Action{SendAdvert{100}}, Master, md100 + 3*time.Second, 0},
		)},
		{name: "§6.4.3 priority 0: advertise at once, reset Adver_Timer", steps: then(asMaster(),
			step{md100 + 300*ms, recv(0, higher), []Action{SendAdvert{100}}, Master, md100 + 1300*ms, 0},
		)},
		{name: "§6.4.3 higher priority: release, learn interval, Backup", steps: then(asMaster(),
			step{4 * time.Second, recvInt(150, lower, 2*time.Second),
				[]Action{SendAdvert{100}, ReleaseVIPs{}, Became{Backup, "higher priority 150 advert from 192.0.2.5"}},
				Backup, 4*time.Second + md100at2s, 0},
		)},
		{name: "§6.4.3 equal priority from a greater address: release, Backup", steps: then(asMaster(),
			step{4 * time.Second, recv(100, higher),
				[]Action{SendAdvert{100}, ReleaseVIPs{}, Became{Backup, "equal priority 100 advert from greater address 192.0.2.20"}},
				Backup, 4*time.Second + md100, 0},
		)},
		{name: "§6.4.3 equal priority from a lesser address: discarded (lvsd answers it)", steps: then(asMaster(),
			step{4 * time.Second, recv(100, lower), []Action{SendAdvert{100}, Announce{}}, Master, 5 * time.Second, 0},
		)},
		{name: "§6.4.3 lower priority: discarded (lvsd answers it)", steps: then(asMaster(),
			step{4 * time.Second, recv(99, higher), []Action{SendAdvert{100}, Announce{}}, Master, 5 * time.Second, 0},
		)},
		{name: "§6.4.3 Shutdown in Master: advertise priority 0, release, Initialize", steps: then(asMaster(),
			step{4 * time.Second, shutdown(), []Action{SendAdvert{0}, ReleaseVIPs{}, Became{Initialize, "shutdown"}}, Initialize, none, 0},
		)},
		{name: "§6.4.3 owner wins a tie against an owner with a lesser address", cfg: owner, steps: []step{
			{0, start(), []Action{SendAdvert{255}, AcquireVIPs{}, Became{Master, ""}}, Master, time.Second, 0},
			{500 * ms, recv(255, lower), []Action{SendAdvert{255}, Announce{}}, Master, 1500 * ms, 0},
			{600 * ms, recv(255, higher), []Action{SendAdvert{255}, ReleaseVIPs{}, Became{Backup, "greater address"}}, Backup, 600*ms + md255, 0},
		}},
		{name: "§6.1 owner always preempts, even with Preempt_Mode false",
			cfg: func(c *Config) { c.Priority, c.Preempt = 255, false }, steps: []step{
				{0, start(), []Action{SendAdvert{255}, AcquireVIPs{}, Became{Master, ""}}, Master, time.Second, 0},
				{500 * ms, recv(255, higher), []Action{SendAdvert{255}, ReleaseVIPs{}, Became{Backup, ""}}, Backup, 500*ms + md255, 0},
				{time.Second, recv(100, lower), nil, Backup, 500*ms + md255, 0},
				{500*ms + md255, timeout(), []Action{SendAdvert{255}, AcquireVIPs{}, Became{Master, "master down"}},
					Master, 1500*ms + md255, 0},
			}},
		{name: "§7.1 own adverts, looped back, are ignored", steps: then(asMaster(),
			step{4 * time.Second, recv(100, self), nil, Master, md100 + time.Second, 0},
			step{4 * time.Second, recv(0, self), nil, Master, md100 + time.Second, 0},
		)},
	})
}

// TestMachineVersion2 checks the RFC 3768 §6.1 timers: Skew_Time is
// (256-Priority)/256 seconds whatever the interval, and the master's
// interval is never learned (RFC 3768 §7.1 drops a different one).
func TestMachineVersion2(t *testing.T) {
	v2 := func(c *Config) { c.Version, c.AdvertInterval = 2, 2*time.Second }
	md := 6*time.Second + skew100 // 3 * 2s + 156/256 s
	runMachineCases(t, []machineCase{
		{name: "RFC 3768 §6.1 Master_Down_Interval in seconds", cfg: v2, steps: []step{
			{0, start(), []Action{Became{Backup, "startup"}}, Backup, md, 0},
			{time.Second, recvInt(150, higher, 5*time.Second), nil, Backup, time.Second + md, 0},
			{2 * time.Second, recv(0, higher), nil, Backup, 2*time.Second + skew100, 0},
		}},
	})
}
