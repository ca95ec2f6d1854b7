package vrrp

import "time"

// This file holds the events that come from the node rather than the
// network: shutdown, planned switchover, priority changes and faults.

// Shutdown handles the Shutdown event of RFC 5798 §6.4.2 and §6.4.3: a
// master (or resigning master) sends an advert with priority 0, so the
// backups take over after Skew_Time rather than Master_Down_Interval, and
// releases the addresses. Every state but Initialize goes to Initialize.
func (m *Machine) Shutdown(now time.Time) []Action {
	if m.state == Initialize {
		return nil
	}
	var acts []Action
	if m.state.HoldsVIPs() {
		acts = append(acts, SendAdvert{0}, ReleaseVIPs{})
	}
	m.reset(Initialize)
	return append(acts, Became{Initialize, "shutdown"})
}

// Resign starts a planned switchover from Master: it advertises priority 0
// so that the best backup takes over after its Skew_Time, but keeps the
// addresses, so that clients are never without a master, and enters
// Resigning. In Resigning the Machine advertises priority 0 every
// Advertisement_Interval; the first advert of non-zero priority it hears
// from another router, or the end of Config.ResignTimeout, releases the
// addresses and enters Backup. That Backup yields for one
// Master_Down_Interval: it neither preempts nor takes over from its own
// timer, so the new master keeps the role even if it has a lower priority.
// After that ordinary preemption applies again, so a preempting node of
// higher priority takes the role back; for a lasting switchover, also lower
// this node's priority below the new master's with SetPriority. Resign
// does nothing outside Master.
func (m *Machine) Resign(now time.Time) []Action {
	if m.state != Master {
		return nil
	}
	m.state = Resigning
	m.resignEnd = now.Add(m.cfg.resignTimeout())
	m.deadline = now.Add(m.cfg.AdvertInterval)
	return []Action{SendAdvert{0}, Became{Resigning, "resign requested: advertising priority 0, keeping addresses until a new master is heard"}}
}

// SetPriority sets the effective priority, for example when a tracked
// interface or script changes weight. It is clamped to 1..254, or 1..255
// when the configured priority is 255: 0 means "leaving" on the wire (use
// Resign or Shutdown) and 255 belongs to the address owner (RFC 5798
// §5.2.4). A master advertises the new priority at once so that a
// preempting backup can act on it; in other states it takes effect with
// the next advert received (RFC 5798 §6.4.2 compares against it).
func (m *Machine) SetPriority(now time.Time, p uint8) []Action {
	switch {
	case p == 0:
		p = 1
	case p == 255 && m.cfg.Priority != 255:
		p = 254
	}
	if p == m.prio {
		return nil
	}
	m.prio = p
	if m.state != Master {
		return nil
	}
	m.deadline = now.Add(m.cfg.AdvertInterval)
	return []Action{SendAdvert{p}}
}

// SetFault enters Fault, for example because a tracked interface is down.
// This is not in RFC 5798; it follows keepalived's FAULT state. A node in
// Fault never becomes master and ignores adverts. Leaving Master or
// Resigning, it first advertises priority 0, as keepalived does, so a
// backup takes over after Skew_Time, and releases the addresses. It does
// nothing if already in Fault.
func (m *Machine) SetFault(now time.Time, reason string) []Action {
	if m.state == Fault {
		return nil
	}
	var acts []Action
	if m.state.HoldsVIPs() {
		acts = append(acts, SendAdvert{0}, ReleaseVIPs{})
	}
	m.reset(Fault)
	return append(acts, Became{Fault, "fault: " + reason})
}

// ClearFault leaves Fault as if the node had just started (RFC 5798
// §6.4.1): Backup, waiting Master_Down_Interval for a master, or Master at
// once for the address owner. It does nothing outside Fault.
func (m *Machine) ClearFault(now time.Time) []Action {
	if m.state != Fault {
		return nil
	}
	m.reset(Initialize)
	return m.startup(now, "fault cleared")
}

// Takeover makes a Backup become Master at once, as if its
// Master_Down_Timer had fired (RFC 5798 §6.4.2): it advertises, takes the
// addresses and arms Adver_Timer. RFC 5798 has no such event; the shell's
// Group uses it so that the members of a group become master together, as
// keepalived's sync groups do. It ignores a yield after Resign, since the
// caller decided. It does nothing outside Backup.
func (m *Machine) Takeover(now time.Time, why string) []Action {
	if m.state != Backup {
		return nil
	}
	return m.becomeMaster(now, why)
}
