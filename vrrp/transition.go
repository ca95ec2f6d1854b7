package vrrp

import (
	"net/netip"
	"time"
)

// This file holds the Machine's transitions and timer arithmetic.

// startup is the Startup event of RFC 5798 §6.4.1, from Initialize.
func (m *Machine) startup(now time.Time, why string) []Action {
	if m.owner() {
		return m.becomeMaster(now, why+": address owner (priority 255)")
	}
	m.reset(Backup)
	m.deadline = now.Add(m.masterDown())
	return []Action{Became{Backup, why}}
}

// becomeMaster advertises, takes the addresses and arms Adver_Timer, as
// RFC 5798 §6.4.1 and §6.4.2 say, in that order: the advert first stops
// the other backups from taking over too.
func (m *Machine) becomeMaster(now time.Time, why string) []Action {
	m.reset(Master)
	m.master = m.cfg.Self
	m.deadline = now.Add(m.cfg.AdvertInterval)
	return []Action{SendAdvert{m.prio}, AcquireVIPs{}, Became{Master, why}}
}

// toBackup enters Backup keeping the master and interval just learned, and
// arms Master_Down_Timer (RFC 5798 §6.4.3).
func (m *Machine) toBackup(now time.Time) {
	master, adv := m.master, m.masterAdv
	m.reset(Backup)
	m.master, m.masterAdv = master, adv
	m.deadline = now.Add(m.masterDown())
}

// leaveResigning releases the addresses and enters Backup, yielding for
// one Master_Down_Interval: it accepts any master and does not take over
// before then, so the node that took over stays master.
func (m *Machine) leaveResigning(now time.Time, why string) []Action {
	m.toBackup(now)
	m.yieldEnd = m.deadline
	return []Action{ReleaseVIPs{}, Became{Backup, why}}
}

// reset enters state s with no timers running and the configured interval.
func (m *Machine) reset(s State) {
	m.state = s
	m.masterAdv = m.cfg.AdvertInterval
	m.master = netip.Addr{}
	m.deadline = time.Time{}
	m.resignEnd = time.Time{}
	m.preemptAt = time.Time{}
	m.yieldEnd = time.Time{}
	m.lastHeal = time.Time{}
	m.zeroHeard = false
}

// owner reports whether the effective priority is that of the address
// owner, which starts as master and always preempts (RFC 5798 §6.1).
func (m *Machine) owner() bool { return m.prio == 255 }

// preempts reports whether this backup takes over from a lower-priority
// master: Preempt_Mode, which the owner has regardless (RFC 5798 §6.1).
func (m *Machine) preempts() bool { return m.cfg.Preempt || m.owner() }

// skew returns Skew_Time. RFC 5798 §6.1: ((256 - Priority) *
// Master_Adver_Interval) / 256. RFC 3768 §6.1 (version 2): (256 -
// Priority) / 256 seconds.
func (m *Machine) skew() time.Duration {
	unit := m.masterAdv
	if m.cfg.Version == 2 {
		unit = time.Second
	}
	return time.Duration(256-int(m.prio)) * unit / 256
}

// masterDown returns Master_Down_Interval: 3 * Master_Adver_Interval +
// Skew_Time (RFC 5798 §6.1; version 2 uses Advertisement_Interval, which
// masterAdv then always is).
func (m *Machine) masterDown() time.Duration {
	return 3*m.masterAdv + m.skew()
}
