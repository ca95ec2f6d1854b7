package api

// VRRPState is a VRRP instance's state as operators see it.
type VRRPState string

// The states of a VRRP instance (RFC 5798 §6.4, plus lvsd's Resigning,
// a master handing over, and keepalived's Fault).
const (
	StateInit      VRRPState = "INIT"
	StateBackup    VRRPState = "BACKUP"
	StateMaster    VRRPState = "MASTER"
	StateResigning VRRPState = "RESIGNING"
	StateFault     VRRPState = "FAULT"
)

// HoldsVIPs reports whether an instance in state s holds its addresses:
// Master and Resigning (a resigning master keeps them until it hears the
// new one).
func (s VRRPState) HoldsVIPs() bool { return s == StateMaster || s == StateResigning }

// Number is the state as the keepalived exporters number it (INIT 0,
// BACKUP 1, MASTER 2, FAULT 3), so that their dashboards' thresholds
// carry over; Resigning still holds the VIPs and counts as MASTER.
func (s VRRPState) Number() int {
	switch s {
	case StateBackup:
		return 1
	case StateMaster, StateResigning:
		return 2
	case StateFault:
		return 3
	}
	return 0
}

// HealthState is where a realserver stands with its health check and
// the operator.
type HealthState string

// The states of a realserver. GoingDown and GoingUp are an up (down)
// realserver whose last checks failed (passed) but not yet fall (rise)
// times in a row.
const (
	HealthUp        HealthState = "up"
	HealthGoingDown HealthState = "going-down"
	HealthGoingUp   HealthState = "going-up"
	HealthDown      HealthState = "down"
	HealthDrained   HealthState = "drained"
	HealthUnchecked HealthState = "unchecked"
)
