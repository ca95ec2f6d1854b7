package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/api"
)

// drainCmd builds `lvsd drain` (on) and `lvsd undrain` (off).
func drainCmd(on bool) *cobra.Command {
	use, short := "drain SERVICE REAL", "Set a realserver to weight 0 until undrained (survives reloads and restarts)"
	if !on {
		use, short = "undrain SERVICE REAL", "Give a drained realserver its configured weight back"
	}
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			a := api.DrainArgs{Service: args[0], Real: args[1], Drain: on}
			if err := api.Call(ctx, socketPath(cmd), api.CmdDrain, a, nil); err != nil {
				return err
			}
			verb := "drained"
			if !on {
				verb = "undrained"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s\n", verb, args[0], args[1])
			return nil
		},
	}
	c.Flags().String("socket", "", "control socket (default: from the config file)")
	return c
}
