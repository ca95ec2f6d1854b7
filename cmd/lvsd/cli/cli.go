// Package cli is lvsd's operator commands (status, reload, diff,
// switchover, drill, drain, undrain): each talks to a running daemon over
// the control socket in package api's types. It never imports the engine
// (package director): the commands that only read or ask need none of it.
package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/config"
)

// ExitError carries an exit status out of a command without printing more.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExitCode is the process's exit status.
func (e ExitError) ExitCode() int { return e.Code }

// Commands returns the operator commands, for the root command to add.
func Commands() []*cobra.Command {
	return []*cobra.Command{statusCmd(), reloadCmd(), diffCmd(), switchoverCmd(), drillCmd(), drainCmd(true), drainCmd(false)}
}

// ConfigPath is the root's --config flag.
func ConfigPath(cmd *cobra.Command) string {
	p, _ := cmd.Flags().GetString("config")
	return p
}

func socketPath(cmd *cobra.Command) string {
	if s, _ := cmd.Flags().GetString("socket"); s != "" {
		return s
	}
	return config.ControlSocketOf(ConfigPath(cmd))
}
