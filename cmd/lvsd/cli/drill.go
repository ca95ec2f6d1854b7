package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/probe"
)

func drillCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "drill",
		Short: "Rehearse a failover on a live pair: hand the VIPs to the peer and take them back, measuring the outage",
		Long: `drill runs on the master. It hands every instance this node is master of to
the peer without loss (lvsd switchover), waits, then gives this node its
priority back so that it takes the VIPs back (preemption, after the
instance's preempt_delay). With --probe it opens a TCP connection to the
target every 10 ms meanwhile, from where the command runs, and reports what
failed in each phase: run it where clients are, or probe the VIP through
the client path.`,
		Args: cobra.NoArgs,
		RunE: runDrill,
	}
	c.Flags().String("probe", "", "host:port to connect to every 10 ms during the drill")
	c.Flags().Duration("timeout", time.Minute, "give up when a phase takes longer")
	c.Flags().Duration("settle", 2*time.Second, "time between the phases")
	c.Flags().String("socket", "", "control socket (default: from the config file)")
	return c
}

func runDrill(cmd *cobra.Command, _ []string) error {
	sock := socketPath(cmd)
	target, _ := cmd.Flags().GetString("probe")
	limit, _ := cmd.Flags().GetDuration("timeout")
	settle, _ := cmd.Flags().GetDuration("settle")
	w := cmd.OutOrStdout()
	if _, n := masters(cmd.Context(), sock); n == 0 {
		return errors.New("this node is master of no instance: run lvsd drill on the master")
	}
	var p *probe.Prober
	if target != "" {
		p = probe.Start(10*time.Millisecond, 4, probe.Go, probe.TCPConnect(target, 200*time.Millisecond))
		time.Sleep(settle / 2)
	}
	t0 := time.Now()
	out, err := switchover(cmd.Context(), sock, api.SwitchoverArgs{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "handover:%s\n", out)
	time.Sleep(settle)
	t1 := time.Now()
	if _, err := switchover(cmd.Context(), sock, api.SwitchoverArgs{Restore: true}); err != nil {
		return err
	}
	back := waitMaster(cmd.Context(), sock, limit)
	if back < 0 {
		fmt.Fprintf(w, "take back: this node did not become master again within %v (preempt off? run lvsd drill on the peer)\n", limit)
	} else {
		fmt.Fprintf(w, "take back: master again %v after its priority was restored\n", back.Round(time.Millisecond))
	}
	if p != nil {
		time.Sleep(settle)
		samples, _ := p.Stop()
		report(w, target, samples, t0, t1, time.Now())
	}
	return nil
}

// slowProbe is the latency above which a successful probe is reported as
// slow: one that needed a TCP retransmission while the VIP moved.
const slowProbe = 300 * time.Millisecond

func report(w io.Writer, target string, samples []probe.Sample, t0, t1, t2 time.Time) {
	for _, ph := range []struct {
		name     string
		from, to time.Time
	}{{"handover", t0, t1}, {"take back", t1, t2}} {
		m := probe.Measure(samples, ph.from, ph.to, slowProbe)
		fmt.Fprintf(w, "probe %s, %s: %d of %d connections failed, client-visible outage %v; %d slower than %v (slowest %v)\n",
			target, ph.name, m.Failed, m.OK+m.Failed, m.Outage.Round(time.Millisecond), m.Slow, slowProbe, m.Slowest.Round(time.Millisecond))
	}
}

// masters returns the instance states and how many are MASTER here.
func masters(ctx context.Context, sock string) (api.Status, int) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var s api.Status
	if err := api.Call(ctx, sock, api.CmdStatus, nil, &s); err != nil {
		return s, 0
	}
	return s, s.Masters()
}

func switchover(ctx context.Context, sock string, a api.SwitchoverArgs) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var r api.SwitchoverResult
	if err := api.Call(ctx, sock, api.CmdSwitchover, a, &r); err != nil {
		return "", err
	}
	names := make([]string, 0, len(r.Instances))
	for name := range r.Instances {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "\n  %s: %s", name, r.Instances[name])
	}
	return b.String(), nil
}

// waitMaster waits until every instance is MASTER here; -1 on timeout.
func waitMaster(ctx context.Context, sock string, limit time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < limit {
		if s, n := masters(ctx, sock); n > 0 && n == len(s.VRRP) {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return -1
}
