package cli

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/api"
)

func switchoverCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "switchover",
		Short: "Hand this node's master VRRP instances to the peer without loss, and stay backup",
		Long: `switchover resigns every VRRP instance this node is master of (or the one
named by --instance): it advertises priority 0 but keeps the VIPs until the
peer's first advertisement, so no client packet is lost, then drops the
instance's priority to 1 so that preemption does not take it back.
--restore gives the configured priorities back.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var a api.SwitchoverArgs
			a.Instance, _ = cmd.Flags().GetString("instance")
			a.Restore, _ = cmd.Flags().GetBool("restore")
			ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
			defer cancel()
			var r api.SwitchoverResult
			err := api.Call(ctx, socketPath(cmd), api.CmdSwitchover, a, &r)
			names := make([]string, 0, len(r.Instances))
			for name := range r.Instances {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", name, r.Instances[name])
			}
			return err
		},
	}
	c.Flags().String("instance", "", "only this VRRP instance")
	c.Flags().Bool("restore", false, "give the instances their configured priority back")
	c.Flags().String("socket", "", "control socket (default: from the config file)")
	return c
}
