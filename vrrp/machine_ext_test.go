package vrrp

import (
	"testing"
	"time"
)

// TestMachinePreemptDelay checks keepalived's preempt_delay semantics:
// the delay starts at the first lower-priority advert heard in Backup;
// until it ends such adverts are accepted (as with Preempt_Mode false);
// after it they are discarded (§6.4.2), so Master_Down_Timer runs out.
func TestMachinePreemptDelay(t *testing.T) {
	delayed := func(c *Config) { c.Priority, c.PreemptDelay = 200, 10*time.Second }
	runMachineCases(t, []machineCase{
		{name: "defers to a lower-priority master for the delay, then preempts", cfg: delayed, steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md200, 0},
			{500 * ms, recv(100, higher), nil, Backup, 500*ms + md200, 0}, // delay runs to 10.5s
			{9500 * ms, recv(100, higher), nil, Backup, 9500*ms + md200, 0},
			{10500 * ms, recv(100, higher), nil, Backup, 9500*ms + md200, 0}, // discarded
			{11500 * ms, recv(100, higher), nil, Backup, 9500*ms + md200, 0},
			{9500*ms + md200, timeout(), []Action{SendAdvert{200}, AcquireVIPs{}, Became{Master, "master down"}},
				Master, 10500*ms + md200, 0},
		}},
		{name: "never delays taking over from a silent master", cfg: delayed, steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md200, 0},
			{md200, timeout(), []Action{SendAdvert{200}, AcquireVIPs{}, Became{Master, ""}}, Master, md200 + time.Second, 0},
		}},
		{name: "a master we do not outrank stops the delay; the next lower one restarts it", cfg: delayed, steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md200, 0},
			{1 * time.Second, recv(100, higher), nil, Backup, 1*time.Second + md200, 0}, // delay to 11s
			{5 * time.Second, recv(250, higher), nil, Backup, 5*time.Second + md200, 0}, // stopped
			{6 * time.Second, recv(100, higher), nil, Backup, 6*time.Second + md200, 0}, // delay to 16s
			{12 * time.Second, recv(100, higher), nil, Backup, 12*time.Second + md200, 0},
			{16 * time.Second, recv(100, higher), nil, Backup, 12*time.Second + md200, 0}, // discarded
		}},
		{name: "entering Backup again restarts the delay", cfg: delayed, steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md200, 0},
			{1 * time.Second, recv(100, higher), nil, Backup, 1*time.Second + md200, 0}, // delay to 11s
			{2 * time.Second, fault("eth1 down"), []Action{Became{Fault, "eth1 down"}}, Fault, none, 0},
			{3 * time.Second, clearFault(), []Action{Became{Backup, "fault cleared"}}, Backup, 3*time.Second + md200, 0},
			{4 * time.Second, recv(100, higher), nil, Backup, 4*time.Second + md200, 0}, // delay to 14s
			{12 * time.Second, recv(100, higher), nil, Backup, 12*time.Second + md200, 0},
		}},
		{name: "no delay with Preempt_Mode false: never preempts",
			cfg: func(c *Config) { delayed(c); c.Preempt = false }, steps: []step{
				{0, start(), []Action{Became{Backup, ""}}, Backup, md200, 0},
				{1 * time.Second, recv(100, higher), nil, Backup, 1*time.Second + md200, 0},
				{60 * time.Second, recv(100, higher), nil, Backup, 60*time.Second + md200, 0},
			}},
	})
}

// TestMachineResign checks the planned switchover: priority 0 at once,
// addresses kept until a new master is heard or ResignTimeout passes, then
// a Backup that yields for one Master_Down_Interval.
func TestMachineResign(t *testing.T) {
	resigning := step{4 * time.Second, resign(), []Action{SendAdvert{0}, Became{Resigning, "resign requested"}},
		Resigning, 5 * time.Second, 0}
	runMachineCases(t, []machineCase{
		{name: "new master heard: release, Backup, yield, then preempt again", steps: then(asMaster(), resigning,
			step{4200 * ms, recv(50, lower), []Action{ReleaseVIPs{}, Became{Backup, "new master 192.0.2.5 (priority 50)"}},
				Backup, 4200*ms + md100, 0},
			// Yielding: the lower-priority master is accepted despite Preempt_Mode.
			step{5 * time.Second, recv(50, lower), nil, Backup, 5*time.Second + md100, 0},
			// The yield ended at 4.2s + md100 = 7.809375s: discarded again.
			step{8 * time.Second, recv(50, lower), nil, Backup, 5*time.Second + md100, 0},
			step{5*time.Second + md100, timeout(), []Action{SendAdvert{100}, AcquireVIPs{}, Became{Master, "master down"}},
				Master, 6*time.Second + md100, 0},
		)},
		{name: "priority 0 repeated each interval, released at the default timeout (4 intervals)", steps: then(asMaster(), resigning,
			step{4500 * ms, timeout(), nil, Resigning, 5 * time.Second, 0},
			step{5 * time.Second, timeout(), []Action{SendAdvert{0}}, Resigning, 6 * time.Second, 0},
			step{6 * time.Second, timeout(), []Action{SendAdvert{0}}, Resigning, 7 * time.Second, 0},
			step{7 * time.Second, timeout(), []Action{SendAdvert{0}}, Resigning, 8 * time.Second, 0},
			step{8 * time.Second, timeout(), []Action{ReleaseVIPs{}, Became{Backup, "resign timeout"}}, Backup, 8*time.Second + md100, 0},
			step{8*time.Second + md100, timeout(), []Action{SendAdvert{100}, AcquireVIPs{}, Became{Master, ""}},
				Master, 9*time.Second + md100, 0},
		)},
		{name: "configured ResignTimeout bounds the deadline", cfg: func(c *Config) { c.ResignTimeout = 1500 * ms },
			steps: then(asMaster(), resigning,
				step{5 * time.Second, timeout(), []Action{SendAdvert{0}}, Resigning, 5500 * ms, 0},
				step{5500 * ms, timeout(), []Action{ReleaseVIPs{}, Became{Backup, "resign timeout"}}, Backup, 5500*ms + md100, 0},
			)},
		{name: "a priority-0 advert does not end Resigning", steps: then(asMaster(), resigning,
			step{4200 * ms, recv(0, lower), nil, Resigning, 5 * time.Second, 0},
		)},
		{name: "yield does not stop our own timer from being postponed to its end", steps: then(asMaster(), resigning,
			step{4200 * ms, recv(150, lower), []Action{ReleaseVIPs{}, Became{Backup, "new master"}}, Backup, 4200*ms + md100, 0},
			// A faster master: 3 * 0.5s + 156/256 * 0.5s = 1.8046875s.
			step{4500 * ms, recvInt(150, lower, 500*ms), nil, Backup, 6304687500 * time.Nanosecond, 0},
			step{6304687500 * time.Nanosecond, timeout(), nil, Backup, 4200*ms + md100, 0},
			step{4200*ms + md100, timeout(), []Action{SendAdvert{100}, AcquireVIPs{}, Became{Master, ""}},
				Master, 5200*ms + md100, 0},
		)},
		{name: "a priority-0 advert ends the yield: take over after Skew_Time", steps: then(asMaster(), resigning,
			step{4200 * ms, recv(50, lower), []Action{ReleaseVIPs{}, Became{Backup, ""}}, Backup, 4200*ms + md100, 0},
			step{5 * time.Second, recv(0, lower), nil, Backup, 5*time.Second + skew100, 0},
			step{5*time.Second + skew100, timeout(), []Action{SendAdvert{100}, AcquireVIPs{}, Became{Master, ""}},
				Master, 6*time.Second + skew100, 0},
		)},
		{name: "Shutdown while Resigning: priority 0, release, Initialize", steps: then(asMaster(), resigning,
			step{4500 * ms, shutdown(), []Action{SendAdvert{0}, ReleaseVIPs{}, Became{Initialize, "shutdown"}}, Initialize, none, 0},
		)},
		{name: "Resign outside Master does nothing", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{time.Second, resign(), nil, Backup, md100, 0},
		}},
		{name: "Resign while Resigning does nothing", steps: then(asMaster(), resigning,
			step{4500 * ms, resign(), nil, Resigning, 5 * time.Second, 0},
		)},
	})
}

// TestMachineFault checks the keepalived-style FAULT state.
func TestMachineFault(t *testing.T) {
	down := step{4 * time.Second, fault("eth1 down"),
		[]Action{SendAdvert{0}, ReleaseVIPs{}, Became{Fault, "fault: eth1 down"}}, Fault, none, 0}
	runMachineCases(t, []machineCase{
		{name: "from Master: priority 0, release; then deaf and timerless", steps: then(asMaster(), down,
			step{5 * time.Second, recv(50, lower), nil, Fault, none, 0},
			step{6 * time.Second, timeout(), nil, Fault, none, 0},
			step{7 * time.Second, start(), nil, Fault, none, 0},
			step{8 * time.Second, resign(), nil, Fault, none, 0},
			step{9 * time.Second, fault("again"), nil, Fault, none, 0},
			step{10 * time.Second, clearFault(), []Action{Became{Backup, "fault cleared"}}, Backup, 10*time.Second + md100, 0},
		)},
		{name: "from Backup", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{time.Second, fault("link"), []Action{Became{Fault, "link"}}, Fault, none, 0},
		}},
		{name: "from Resigning", steps: then(asMaster(),
			step{4 * time.Second, resign(), []Action{SendAdvert{0}, Became{Resigning, ""}}, Resigning, 5 * time.Second, 0},
			step{4500 * ms, fault("link"), []Action{SendAdvert{0}, ReleaseVIPs{}, Became{Fault, "link"}}, Fault, none, 0},
		)},
		{name: "before Start: Start waits for ClearFault", steps: []step{
			{0, fault("link"), []Action{Became{Fault, "link"}}, Fault, none, 0},
			{time.Second, start(), nil, Fault, none, 0},
			{2 * time.Second, clearFault(), []Action{Became{Backup, "fault cleared"}}, Backup, 2*time.Second + md100, 0},
		}},
		{name: "owner clears to Master (§6.4.1)", cfg: func(c *Config) { c.Priority = 255 }, steps: []step{
			{0, start(), []Action{SendAdvert{255}, AcquireVIPs{}, Became{Master, ""}}, Master, time.Second, 0},
			{time.Second, fault("link"), []Action{SendAdvert{0}, ReleaseVIPs{}, Became{Fault, ""}}, Fault, none, 0},
			{2 * time.Second, clearFault(), []Action{SendAdvert{255}, AcquireVIPs{}, Became{Master, "fault cleared"}},
				Master, 3 * time.Second, 0},
		}},
		{name: "ClearFault outside Fault does nothing; Shutdown leaves Fault", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{time.Second, clearFault(), nil, Backup, md100, 0},
			{2 * time.Second, fault("link"), []Action{Became{Fault, ""}}, Fault, none, 0},
			{3 * time.Second, shutdown(), []Action{Became{Initialize, "shutdown"}}, Initialize, none, 0},
		}},
	})
}

// TestMachinePriority checks SetPriority, which tracked interfaces and
// scripts use to change the effective priority.
func TestMachinePriority(t *testing.T) {
	runMachineCases(t, []machineCase{
		{name: "Master advertises a new priority at once, then loses to a better peer", steps: then(asMaster(),
			step{4 * time.Second, setPrio(50), []Action{SendAdvert{50}}, Master, 5 * time.Second, 50},
			step{4500 * ms, recv(100, lower), []Action{SendAdvert{50}, ReleaseVIPs{}, Became{Backup, "higher priority 100"}}, Backup, 4500*ms + 3*time.Second + 804687500*time.Nanosecond, 50},
		)},
		{name: "Backup with a raised priority preempts the master (§6.4.2)", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{time.Second, recv(150, higher), nil, Backup, time.Second + md100, 0},
			{2 * time.Second, setPrio(200), nil, Backup, time.Second + md100, 200},
			{3 * time.Second, recv(150, higher), nil, Backup, time.Second + md100, 200},
			{time.Second + md100, timeout(), []Action{SendAdvert{200}, AcquireVIPs{}, Became{Master, ""}},
				Master, 2*time.Second + md100, 200},
		}},
		{name: "Skew_Time follows the effective priority", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{0, setPrio(200), nil, Backup, md100, 200},
			{time.Second, recv(0, higher), nil, Backup, time.Second + skew200, 200},
		}},
		{name: "clamped to 1..254 for a non-owner; unchanged priority does nothing", steps: then(asMaster(),
			step{4 * time.Second, setPrio(0), []Action{SendAdvert{1}}, Master, 5 * time.Second, 1},
			step{5 * time.Second, setPrio(255), []Action{SendAdvert{254}}, Master, 6 * time.Second, 254},
			step{6 * time.Second, setPrio(254), nil, Master, 6 * time.Second, 254},
		)},
		{name: "an owner may go back to 255; below it, it no longer starts as master",
			cfg: func(c *Config) { c.Priority = 255 }, steps: []step{
				{0, setPrio(200), nil, Initialize, none, 200},
				{0, start(), []Action{Became{Backup, "startup"}}, Backup, md200, 200},
				{time.Second, setPrio(255), nil, Backup, md200, 255},
			}},
	})
}

// TestMachineSplitBrainHeal checks lvsd's answer to a master that hears a
// master it outranks: advertise and re-announce at once, at most once per
// Advertisement_Interval.
func TestMachineSplitBrainHeal(t *testing.T) {
	runMachineCases(t, []machineCase{
		{name: "winner advertises and re-announces, rate limited", steps: then(asMaster(),
			step{4 * time.Second, recv(50, higher), []Action{SendAdvert{100}, Announce{}}, Master, 5 * time.Second, 0},
			step{4500 * ms, recv(50, higher), nil, Master, 5 * time.Second, 0},
			step{5 * time.Second, recv(50, higher), []Action{SendAdvert{100}, Announce{}}, Master, 6 * time.Second, 0},
		)},
	})
}

// TestMachineLateShell checks what FuzzMachine's first crasher taught its
// harness: a shell that calls Timeout late gets a takeover's first
// Adver_Timer armed from the time it passes, and a backlog is worked off
// one deadline at a time. A late Adver_Timer is re-armed against its
// deadline (nextTick): one interval after it, or, when whole intervals
// were missed, the first deadline still ahead, so that the adverts keep
// their phase and no burst follows a stall.
func TestMachineLateShell(t *testing.T) {
	runMachineCases(t, []machineCase{
		{name: "late Timeout re-arms against the deadline", steps: []step{
			{0, start(), []Action{Became{Backup, ""}}, Backup, md100, 0},
			{md100 + 1500*ms, timeout(), []Action{SendAdvert{100}, AcquireVIPs{}, Became{Master, ""}}, Master, md100 + 2500*ms, 0},
			// 300ms late: the next advert is still due 1s after the last deadline.
			{md100 + 2800*ms, timeout(), []Action{SendAdvert{100}}, Master, md100 + 3500*ms, 0},
			// 1.5s late, a deadline missed: one advert, then back in phase.
			{md100 + 5*time.Second, timeout(), []Action{SendAdvert{100}}, Master, md100 + 5500*ms, 0},
		}},
	})
}
