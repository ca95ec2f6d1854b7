package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/realserver"
)

func realserverCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "realserver",
		Short: "Prepare this host as a DR or TUN realserver: VIPs on lo, ARP settings; undo it",
		Long: `Prepare this host to receive a director's traffic in direct routing (DR)
or tunnelling (TUN, --tun): each VIP on lo (or on a dummy interface,
--dummy) as a host address, arp_ignore=1 and arp_announce=2 on all and
on the ARP-facing interface (--interface, by default the default
route's), so the host never answers ARP for a VIP; for TUN also the
tunnel device (tunl0, ip6tnl0) up and reverse-path filtering off on all
and tunl0.

up records every change it makes in the state file; down undoes exactly
those (a sysctl changed again since is left as it is) and removes the
file; check reports what is missing or wrong and exits 1 if anything is.`,
	}
	cmd.PersistentFlags().String("state", realserver.DefaultStatePath, "record of the changes up made, which down undoes")
	cmd.AddCommand(realserverUpCmd(), realserverDownCmd(), realserverCheckCmd())
	return cmd
}

// realserverFlags are the flags up and check share.
func realserverFlags(cmd *cobra.Command) {
	cmd.Flags().StringSlice("vip", nil, "virtual IP (IPv4 or IPv6; repeat or separate with commas)")
	cmd.Flags().Bool("tun", false, "IPVS tunnelling instead of direct routing")
	cmd.Flags().String("dummy", "", "carry the VIPs on this dummy interface (created if missing) instead of lo")
	cmd.Flags().String("interface", "", "ARP-facing interface (default: the IPv4 default route's)")
}

func realserverOptions(cmd *cobra.Command) (realserver.Options, error) {
	var o realserver.Options
	raw, _ := cmd.Flags().GetStringSlice("vip")
	for _, s := range raw {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || a.Zone() != "" {
			return o, fmt.Errorf("--vip %q: not an IP address", s)
		}
		o.VIPs = append(o.VIPs, a.Unmap())
	}
	o.Tunnel, _ = cmd.Flags().GetBool("tun")
	o.Dummy, _ = cmd.Flags().GetString("dummy")
	o.Interface, _ = cmd.Flags().GetString("interface")
	if o.Dummy == "lo" {
		o.Dummy = ""
	}
	return o, nil
}

func statePathOf(cmd *cobra.Command) string {
	p, _ := cmd.Flags().GetString("state")
	return p
}

func realserverUpCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up --vip ADDR...",
		Short: "Configure the VIPs and ARP settings; running it again changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := realserverOptions(cmd)
			if err != nil {
				return err
			}
			made, err := realserver.Up(realserver.Host{}, o, statePathOf(cmd))
			w := cmd.OutOrStdout()
			for _, c := range made {
				fmt.Fprintln(w, c)
			}
			if err == nil && len(made) == 0 {
				fmt.Fprintln(w, "nothing to do: this host is ready")
			}
			return err
		},
	}
	realserverFlags(cmd)
	return cmd
}

func realserverDownCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Undo what up changed, as its state file records",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			undone, notes, err := realserver.Down(realserver.Host{}, statePathOf(cmd))
			w := cmd.OutOrStdout()
			for _, c := range undone {
				fmt.Fprintln(w, c)
			}
			for _, n := range notes {
				fmt.Fprintln(w, n)
			}
			if err == nil && len(undone) == 0 && len(notes) == 0 {
				fmt.Fprintln(w, "nothing to undo")
			}
			return err
		},
	}
}

func realserverCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check [--vip ADDR...]",
		Short: "Report what is missing or wrong; exit 1 if anything is",
		Long: `Report what up would change and what it would refuse to work around
(a VIP on an interface that answers ARP for it). Without --vip, check
the VIPs and options of the last up, from the state file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := realserverOptions(cmd)
			if err != nil {
				return err
			}
			if len(o.VIPs) == 0 {
				st, err := realserver.LoadState(statePathOf(cmd))
				if err != nil {
					return err
				}
				if o = st.Options; len(o.VIPs) == 0 {
					return fmt.Errorf("no --vip, and no up recorded in %s", statePathOf(cmd))
				}
			}
			missing, problems, err := realserver.Check(realserver.Host{}, o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, c := range missing {
				fmt.Fprintln(w, c.Missing())
			}
			for _, p := range problems {
				fmt.Fprintln(w, "problem:", p)
			}
			if len(missing)+len(problems) > 0 {
				return exitError{code: 1}
			}
			fmt.Fprintf(w, "ok: %d VIP(s) ready\n", len(o.VIPs))
			return nil
		},
	}
	realserverFlags(cmd)
	return cmd
}
