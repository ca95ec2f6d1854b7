package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/api"
)

func statusCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the running daemon's state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			var s api.Status
			if err := api.Call(ctx, socketPath(cmd), api.CmdStatus, nil, &s); err != nil {
				return err
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			writeStatus(cmd.OutOrStdout(), s, time.Now())
			return nil
		},
	}
	c.Flags().String("socket", "", "control socket (default: from the config file)")
	c.Flags().Bool("json", false, "print JSON")
	return c
}

func diffCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "diff",
		Short: "Print the IPVS operations a reload of the files on disk would make, without making them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			var r api.DiffResult
			if err := api.Call(ctx, socketPath(cmd), api.CmdDiff, nil, &r); err != nil {
				return err
			}
			if len(r.Errors) > 0 {
				for _, e := range r.Errors {
					fmt.Fprintln(cmd.ErrOrStderr(), e)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "the files on disk do not validate; a reload would be rejected\n")
				return ExitError{Code: 1}
			}
			if len(r.Ops) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no changes")
			}
			for _, op := range r.Ops {
				fmt.Fprintln(cmd.OutOrStdout(), op)
			}
			return nil
		},
	}
	c.Flags().String("socket", "", "control socket (default: from the config file)")
	return c
}

func reloadCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "reload",
		Short: "Reload the configuration and report the outcome (like SIGHUP, but synchronous)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			var r api.ReloadResult
			if err := api.Call(ctx, socketPath(cmd), api.CmdReload, nil, &r); err != nil {
				return err
			}
			if !r.OK {
				for _, e := range r.Errors {
					fmt.Fprintln(cmd.ErrOrStderr(), e)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "reload rejected; generation %d keeps serving\n", r.Generation)
				return ExitError{Code: 1}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reloaded: generation %d\n", r.Generation)
			return nil
		},
	}
	c.Flags().String("socket", "", "control socket (default: from the config file)")
	return c
}
