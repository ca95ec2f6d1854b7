package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

// writeStatus prints the snapshot as the status page shows it: the pair,
// every service with its realservers in columns, the last transitions,
// the last reload, and what is missing. Ages are relative to now.
func writeStatus(w io.Writer, s api.Status, now time.Time) {
	fmt.Fprintf(w, "node %s, lvsd %s, up since %s\n", s.Node, s.Version, stamp(s.StartedAt))
	fmt.Fprintf(w, "config %s generation %d loaded %s: %d instance(s), %d service(s), %d real(s)\n",
		s.Config, s.Generation, stamp(s.LoadedAt), s.Instances, s.Services, s.Reals)
	if r := s.LastReload; r != nil && !r.OK {
		fmt.Fprintf(w, "last reload at %s REJECTED (generation %d still serving):\n", stamp(r.At), s.Generation)
		for _, e := range r.Errors {
			fmt.Fprintln(w, "  "+e)
		}
	}
	for _, warn := range s.Warnings {
		fmt.Fprintln(w, "warning: "+warn)
	}
	if s.IPVS.Error != "" {
		fmt.Fprintf(w, "ipvs: last reconcile FAILED: %s\n", s.IPVS.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(s.VRRP) > 0 {
		fmt.Fprintln(tw, "\nINSTANCE\tIFACE/VRID\tSTATE\tSINCE\tPRIO\tMASTER\tPEER ADVERT")
		for _, v := range s.VRRP {
			peer := "none heard"
			if !v.LastAdvert.IsZero() {
				peer = fmt.Sprintf("%s from %s", ago(now, v.LastAdvert), v.PeerAddr)
			}
			master := "unknown"
			if v.Master.IsValid() {
				master = v.Master.String()
			}
			fmt.Fprintf(tw, "vrrp %s\t%s/%d\t%s\t%s\t%d\t%s\t%s\n", v.Name, v.Interface, v.VRID, v.State,
				ago(now, v.Since), v.Priority, master, peer)
			if v.PreemptHeld != "" {
				fmt.Fprintf(tw, "  preemption held: %s\n", v.PreemptHeld)
			}
			printPaths(tw, now, v.Paths)
			printLateness(tw, v.AdvertLateness)
		}
	}
	for _, f := range s.Farm() {
		head := f.Virtual + ", not in the kernel"
		if k := f.Kernel; k != nil {
			head = fmt.Sprintf("%s %s, %d conns, %d/s", f.Virtual, k.Scheduler, k.Connections, k.CPS)
		}
		fmt.Fprintf(tw, "\nservice %s (%s): %d/%d up\n", f.Name, head, f.UpCount(), len(f.Reals))
		fmt.Fprintln(tw, "  REAL\tSTATE\tSINCE\tLAST CHECK\tLATENCY\tRISE/FALL\tWEIGHT CFG/EFF\tACTIVE\tINACTIVE\tCONN/S")
		for _, r := range f.Reals {
			h := r.Health
			eff, active, inactive, cps := "-", "-", "-", "-"
			if k := r.Kernel; k != nil {
				eff, active, inactive, cps = fmt.Sprint(k.Weight), fmt.Sprint(k.Active), fmt.Sprint(k.Inactive), fmt.Sprint(k.CPS)
			}
			since := "start"
			if !h.Since.IsZero() {
				since = ago(now, h.Since)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d/%s\t%s\t%s\t%s\n", h.Real, h.State, since, lastCheck(now, h),
				latency(h.LastLatency), h.Progress(), h.Weight, eff, active, inactive, cps)
		}
	}
	tw.Flush()
	if len(s.Events) > 0 {
		fmt.Fprintln(w, "\nlast transitions:")
		for _, e := range s.Events {
			fmt.Fprintf(w, "  %s  %s %s: %s -> %s  %s\n", stamp(e.At), e.Kind, e.Subject, e.From, e.To, e.Reason)
		}
	}
	if h := s.Handover; h != nil {
		last := "no connection table sent yet"
		if !h.LastFlushAt.IsZero() {
			last = fmt.Sprintf("last sent %d connection(s) to the peer at %s", h.LastFlushed, stamp(h.LastFlushAt))
			if h.LastError != "" {
				last = fmt.Sprintf("last send at %s FAILED: %s", stamp(h.LastFlushAt), h.LastError)
			}
		}
		fmt.Fprintf(w, "handover: %s; %d reset(s)/reply(ies) held\n", last, h.Held)
	}
	for _, a := range s.HTTP {
		fmt.Fprintf(w, "status page: http://%s/\n", a)
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Round(100*time.Millisecond).String() + " ago"
}

func lastCheck(now time.Time, h api.Real) string {
	switch {
	case h.Type == "none" || h.Type == "on" || h.Type == "off":
		return h.Type
	case h.LastCheck.IsZero():
		return h.Type + " none yet"
	case h.LastReason != "":
		return fmt.Sprintf("%s %s: %s (%s)", h.Type, ago(now, h.LastCheck), h.LastReason, h.LastDetail)
	}
	return fmt.Sprintf("%s %s: ok", h.Type, ago(now, h.LastCheck))
}

func latency(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(10 * time.Microsecond).String()
}
