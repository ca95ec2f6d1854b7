package vrrp

import "fmt"

// State is a state of the Machine: the three of RFC 5798 §6.4, plus
// Resigning, a sub-state of Master used for planned switchover, and Fault,
// taken from keepalived, for when a tracked interface is down.
type State uint8

// The Machine's states.
const (
	// Initialize waits for a Startup event (RFC 5798 §6.4.1).
	Initialize State = iota
	// Backup monitors the master and takes over when it goes silent
	// (RFC 5798 §6.4.2).
	Backup
	// Master holds the virtual addresses and advertises (RFC 5798 §6.4.3).
	Master
	// Resigning is Master after Resign: it still holds the virtual
	// addresses but advertises priority 0 until a new master is heard or a
	// deadline passes, so that clients are never left without a master.
	Resigning
	// Fault never becomes master and holds no addresses; the shell moves
	// the Machine in and out of it when tracked interfaces fail and recover.
	Fault
)

// String returns the state's name in upper case, as keepalived logs it.
func (s State) String() string {
	switch s {
	case Initialize:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Resigning:
		return "RESIGNING"
	case Fault:
		return "FAULT"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// HoldsVIPs reports whether the node owns the virtual addresses in state s:
// Master and its sub-state Resigning.
func (s State) HoldsVIPs() bool { return s == Master || s == Resigning }

// Action is something the Machine asks the shell to do. The shell carries
// out the actions of one call in order. Actions are plain values, so tests
// compare them with ==.
type Action interface{ action() }

// SendAdvert asks the shell to send one ADVERTISEMENT with this priority,
// and the configured VRID, interval and addresses. Priority 0 tells backups
// that this master is leaving (RFC 5798 §6.4.3).
type SendAdvert struct{ Priority uint8 }

// AcquireVIPs asks the shell to add the virtual addresses and announce them
// with gratuitous ARP (IPv4) or unsolicited Neighbor Advertisements with
// the Router flag (IPv6), as a new master must (RFC 5798 §6.4.1, §6.4.2).
type AcquireVIPs struct{}

// Announce asks the shell to send gratuitous ARP or unsolicited Neighbor
// Advertisements again for addresses it already holds, so that hosts that
// followed another node's announcements come back at once.
type Announce struct{}

// ReleaseVIPs asks the shell to remove the virtual addresses.
type ReleaseVIPs struct{}

// Became reports a state transition and why it happened, for the shell to
// log at Info and to export.
type Became struct {
	State  State
	Reason string
}

func (SendAdvert) action()  {}
func (AcquireVIPs) action() {}
func (Announce) action()    {}
func (ReleaseVIPs) action() {}
func (Became) action()      {}
