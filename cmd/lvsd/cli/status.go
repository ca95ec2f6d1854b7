package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
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
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "node %s, lvsd %s, up since %s\n", s.Node, s.Version, s.StartedAt.Format(time.RFC3339))
			fmt.Fprintf(w, "config %s generation %d loaded %s: %d instance(s), %d service(s), %d real(s)\n",
				s.Config, s.Generation, s.LoadedAt.Format(time.RFC3339), s.Instances, s.Services, s.Reals)
			for _, v := range s.VRRP {
				fmt.Fprintf(w, "vrrp %s (%s vrid %d): %s, priority %d, master %v, since %s\n", v.Name, v.Interface, v.VRID,
					v.State, v.Priority, v.Master, v.Since.Format(time.RFC3339))
			}
			writeIPVS(w, s.IPVS)
			if h := s.Handover; h != nil {
				last := "no connection table sent yet"
				if !h.LastFlushAt.IsZero() {
					last = fmt.Sprintf("last sent %d connection(s) to the peer at %s", h.LastFlushed, h.LastFlushAt.Format(time.RFC3339))
					if h.LastError != "" {
						last = fmt.Sprintf("last send at %s FAILED: %s", h.LastFlushAt.Format(time.RFC3339), h.LastError)
					}
				}
				fmt.Fprintf(w, "handover: %s; %d reset(s)/reply(ies) held\n", last, h.Held)
			}
			writeHealth(w, s)
			for _, warn := range s.Warnings {
				fmt.Fprintln(w, "warning: "+warn)
			}
			if r := s.LastReload; r != nil && !r.OK {
				fmt.Fprintf(w, "last reload at %s REJECTED (generation %d still serving):\n", r.At.Format(time.RFC3339), s.Generation)
				for _, e := range r.Errors {
					fmt.Fprintln(w, "  "+e)
				}
			}
			return nil
		},
	}
	c.Flags().String("socket", "", "control socket (default: from the config file)")
	c.Flags().Bool("json", false, "print JSON")
	return c
}

func writeIPVS(w io.Writer, st api.IPVSStatus) {
	fmt.Fprintf(w, "ipvs: %d service(s), reconciled %s\n", len(st.Services), st.At.Format(time.RFC3339))
	if st.Error != "" {
		fmt.Fprintf(w, "  last reconcile FAILED: %s\n", st.Error)
	}
	for _, s := range st.Services {
		fmt.Fprintf(w, "  %s %s: %d conns, %d cps, %d B in, %d B out\n", s.Key, s.Scheduler, s.Connections, s.CPS, s.InBytes, s.OutBytes)
		for _, r := range s.Reals {
			fmt.Fprintf(w, "    -> %-24s %-4s weight %d  active %d inactive %d\n", r.Addr, r.Forward, r.Weight, r.Active, r.Inactive)
		}
	}
}

func writeHealth(w io.Writer, s api.Status) {
	if len(s.Health) == 0 {
		return
	}
	fmt.Fprintln(w, "health:")
	for _, h := range s.Health {
		state := "up"
		if !h.Up {
			state = "DOWN"
		}
		if slices.Contains(s.Drained[h.Service], h.Real.String()) {
			state += " (drained)"
		}
		line := fmt.Sprintf("  %-12s %-24s %-4s %-15s checks %d", h.Service, h.Real, h.Type, state, h.Checks)
		if h.LastDetail != "" {
			line += fmt.Sprintf(", last: %s (%s)", h.LastDetail, h.LastReason)
		}
		fmt.Fprintln(w, line)
	}
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
