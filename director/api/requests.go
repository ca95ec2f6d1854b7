package api

import "time"

// The commands of the control socket (Request.Cmd) and what each
// answers: Status, ReloadResult, DiffResult, SwitchoverResult, nothing.
const (
	CmdStatus     = "status"
	CmdReload     = "reload"
	CmdDiff       = "diff"
	CmdSwitchover = "switchover" // args: SwitchoverArgs
	CmdDrain      = "drain"      // args: DrainArgs
)

// Commands lists every command, for error messages.
var Commands = []string{CmdStatus, CmdReload, CmdDiff, CmdDrain, CmdSwitchover}

// ReloadResult tells how the last reload attempt went.
type ReloadResult struct {
	At         time.Time `json:"at"`
	OK         bool      `json:"ok"`
	Generation int       `json:"generation"`
	Errors     []string  `json:"errors,omitempty"`
}

// DiffResult is what a reload would do to the IPVS table (`lvsd diff`).
type DiffResult struct {
	Generation int      `json:"generation"` // the configuration in service
	Ops        []string `json:"ops"`
	Errors     []string `json:"errors,omitempty"` // the files on disk do not validate
}

// SwitchoverArgs selects instances for `lvsd switchover`.
type SwitchoverArgs struct {
	Instance string `json:"instance,omitempty"` // "" = every instance this node is master of
	Restore  bool   `json:"restore,omitempty"`  // give back the configured priorities
}

// SwitchoverResult reports, per instance, what happened.
type SwitchoverResult struct {
	Instances map[string]string `json:"instances"`
}

// DrainArgs names a realserver for `lvsd drain` and `lvsd undrain`.
type DrainArgs struct {
	Service string `json:"service"`
	Real    string `json:"real"`
	Drain   bool   `json:"drain"`
}
