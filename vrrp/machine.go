package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// Machine is the VRRP state machine of RFC 5798 §6.4 for one virtual
// router. It has no sockets, goroutines, logging or clock: each method
// takes an event and the current time and returns the actions the shell
// must carry out, in order. One goroutine must own a Machine; it is not
// safe for concurrent use.
//
// The shell calls Timeout when Deadline passes and Receive for every
// advertisement that Validate accepted.
type Machine struct {
	cfg       Config
	state     State
	prio      uint8         // effective priority (SetPriority)
	masterAdv time.Duration // Master_Adver_Interval (RFC 5798 §6.1)
	master    netip.Addr    // the master we follow, or Self when we are it

	// deadline is Adver_Timer in Master and Resigning, Master_Down_Timer in
	// Backup, and zero in Initialize and Fault.
	deadline  time.Time
	resignEnd time.Time // Resigning: release the addresses at this time
	preemptAt time.Time // Backup: end of the running preempt delay, or zero
	yieldEnd  time.Time // Backup after Resigning: no takeover before this
	lastHeal  time.Time // Master: last answer to a lower-priority master
	zeroHeard bool      // Backup: the master resigned, Skew_Time is running
}

// Status is a snapshot of a Machine for operators, safe to hand to another
// goroutine.
type Status struct {
	State State
	// Priority is the effective priority.
	Priority uint8
	// MasterAdverInterval is the master's advertisement interval as learned
	// from its adverts (version 3), or ours.
	MasterAdverInterval time.Duration
	// Master is the master's address as last heard, Self while this node
	// holds the addresses, or the zero Addr when unknown.
	Master netip.Addr
	// Deadline is when the Machine next needs Timeout, or zero for never.
	Deadline time.Time
}

// NewMachine returns a Machine in Initialize for cfg, or cfg's problems.
func NewMachine(cfg Config) (*Machine, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg.Version = cfg.version()
	m := &Machine{cfg: cfg, prio: cfg.Priority}
	m.reset(Initialize)
	return m, nil
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority returns the effective priority.
func (m *Machine) Priority() uint8 { return m.prio }

// Deadline returns when the shell must next call Timeout. It returns the
// zero Time in Initialize and Fault, where no timer runs: the shell must
// then wait for events only, not arm a timer for the zero Time.
func (m *Machine) Deadline() time.Time {
	if m.state == Resigning && m.resignEnd.Before(m.deadline) {
		return m.resignEnd
	}
	return m.deadline
}

// Status returns a snapshot of the Machine.
func (m *Machine) Status() Status {
	return Status{
		State:               m.state,
		Priority:            m.prio,
		MasterAdverInterval: m.masterAdv,
		Master:              m.master,
		Deadline:            m.Deadline(),
	}
}

// Start handles the Startup event of RFC 5798 §6.4.1: the address owner
// (priority 255) becomes Master at once, any other router becomes Backup
// and waits Master_Down_Interval for a master. Outside Initialize, and so
// also in Fault, it does nothing; ClearFault starts a faulted Machine.
func (m *Machine) Start(now time.Time) []Action {
	if m.state != Initialize {
		return nil
	}
	return m.startup(now, "startup")
}

// Receive handles an advertisement that Validate accepted; a.From must be
// the sender's address. It follows RFC 5798 §6.4.2 in Backup and §6.4.3 in
// Master. In Initialize and Fault it does nothing, and it ignores adverts
// from Self, which a looped-back multicast socket would deliver.
func (m *Machine) Receive(now time.Time, a Advert) []Action {
	if a.From == m.cfg.Self {
		return nil
	}
	switch m.state {
	case Backup:
		return m.backupReceive(now, a)
	case Master:
		return m.masterReceive(now, a)
	case Resigning:
		return m.resigningReceive(now, a)
	}
	return nil
}

// Timeout handles the expiry of the timer that Deadline returned. Called
// early, or in a state without a timer, it does nothing.
func (m *Machine) Timeout(now time.Time) []Action {
	switch m.state {
	case Backup:
		if now.Before(m.deadline) {
			return nil
		}
		if now.Before(m.yieldEnd) {
			m.deadline = m.yieldEnd
			return nil
		}
		// §6.4.2: Master_Down_Timer fired.
		if m.zeroHeard {
			return m.becomeMaster(now, "master down: it sent priority 0, Skew_Time passed")
		}
		return m.becomeMaster(now, "master down interval expired")
	case Master:
		if now.Before(m.deadline) {
			return nil
		}
		// §6.4.3: Adver_Timer fired.
		m.deadline = nextTick(m.deadline, now, m.cfg.AdvertInterval)
		return advertActs[m.prio]
	case Resigning:
		if !now.Before(m.resignEnd) {
			return m.leaveResigning(now, "resign timeout passed without hearing a new master")
		}
		if now.Before(m.deadline) {
			return nil
		}
		m.deadline = nextTick(m.deadline, now, m.cfg.AdvertInterval)
		return advertActs[0]
	}
	return nil
}

// advertActs holds, for each priority, the actions of a timed advert,
// shared and never written: the master's Adver_Timer, which fires every
// interval, then allocates nothing (the shell's advert path, node_do.go).
// Their capacity is their length, so a caller that appends copies.
var advertActs = func() (a [256][]Action) {
	for p := range a {
		a[p] = []Action{SendAdvert{uint8(p)}}
	}
	return a
}()

// nextTick returns the Adver_Timer deadline after one that fired at now:
// one interval after the deadline, not after now, so that a shell that
// wakes late does not push every later advert back by as much (RFC 5798
// §6.4.3 resets the timer to Advertisement_Interval; against the
// deadline, the adverts keep their rate whatever the wake-up latency).
// A shell that missed whole intervals sends one advert, not a burst, and
// keeps the phase: the next deadline is the first one still ahead.
func nextTick(deadline, now time.Time, interval time.Duration) time.Time {
	next := deadline.Add(interval)
	if next.After(now) {
		return next
	}
	return deadline.Add((now.Sub(deadline)/interval + 1) * interval)
}

// backupReceive is RFC 5798 §6.4.2, "If an ADVERTISEMENT is received".
func (m *Machine) backupReceive(now time.Time, a Advert) []Action {
	if a.Priority == 0 {
		// The master is leaving: take over after Skew_Time, so that the
		// highest-priority backup wins. This ends any yield after Resign,
		// since nobody else may be left to take the addresses.
		m.yieldEnd = time.Time{}
		m.deadline = now.Add(m.skew())
		m.zeroHeard = true
		return nil
	}
	if !m.defers(now, a.Priority) {
		return nil // preempt: discard, so Master_Down_Timer runs out
	}
	m.learn(a)
	m.deadline = now.Add(m.masterDown())
	m.zeroHeard = false
	return nil
}

// defers reports whether a backup accepts an advert of priority p, which
// RFC 5798 §6.4.2 says it does if Preempt_Mode is false or p is at least
// its own. lvsd also accepts a lower priority while yielding after Resign
// and during the preempt delay, which this starts on first use.
func (m *Machine) defers(now time.Time, p uint8) bool {
	switch {
	case p >= m.prio:
		m.preemptAt = time.Time{}
		return true
	case !m.preempts(), now.Before(m.yieldEnd):
		return true
	case m.cfg.PreemptDelay > 0 && m.preemptAt.IsZero():
		m.preemptAt = now.Add(m.cfg.PreemptDelay)
		return true
	}
	return now.Before(m.preemptAt)
}

// masterReceive is RFC 5798 §6.4.3, "If an ADVERTISEMENT is received".
func (m *Machine) masterReceive(now time.Time, a Advert) []Action {
	if a.Priority == 0 {
		// Another master is leaving: tell backups at once that we are here.
		m.deadline = now.Add(m.cfg.AdvertInterval)
		return []Action{SendAdvert{m.prio}}
	}
	if a.Priority > m.prio || (a.Priority == m.prio && a.From.Compare(m.cfg.Self) > 0) {
		reason := fmt.Sprintf("higher priority %d advert from %v (ours %d)", a.Priority, a.From, m.prio)
		if a.Priority == m.prio {
			reason = fmt.Sprintf("equal priority %d advert from greater address %v", a.Priority, a.From)
		}
		m.learn(a)
		m.toBackup(now)
		// RFC 5798 §6.4.3 only steps down. lvsd first sends one last
		// advert of its own priority: after a split brain (or a
		// preemption) the winner may never have heard this node as
		// master, so it would not re-announce, and clients that followed
		// this node would be left with a MAC that no longer holds the
		// VIPs. Hearing a lower-priority master, the winner advertises and
		// re-announces at once (the heal below). Receivers treat it as an
		// ordinary advert.
		return []Action{SendAdvert{m.prio}, ReleaseVIPs{}, Became{Backup, reason}}
	}
	// The RFC discards an advert we outrank. Two masters means a split
	// brain that is healing: advertise now so the loser steps down at once,
	// and re-announce so hosts that followed the loser come back. At most
	// once per Advertisement_Interval, whatever the loser sends.
	if !m.lastHeal.IsZero() && now.Sub(m.lastHeal) < m.cfg.AdvertInterval {
		return nil
	}
	m.lastHeal = now
	m.deadline = now.Add(m.cfg.AdvertInterval)
	return []Action{SendAdvert{m.prio}, Announce{}}
}

// resigningReceive handles an advert after Resign: any other router that
// advertises a non-zero priority has taken over, so the addresses go.
func (m *Machine) resigningReceive(now time.Time, a Advert) []Action {
	if a.Priority == 0 {
		return nil // another leaving master; keep waiting for a new one
	}
	m.learn(a)
	return m.leaveResigning(now, fmt.Sprintf("new master %v (priority %d) heard after resign", a.From, a.Priority))
}

// learn records the master's address and, for version 3, its
// Master_Adver_Interval (RFC 5798 §6.4.2, §6.4.3). Version 2 peers all use
// the configured interval (RFC 3768 §7.1).
func (m *Machine) learn(a Advert) {
	m.master = a.From
	if m.cfg.Version == 3 && a.Interval > 0 {
		m.masterAdv = a.Interval
	}
}
