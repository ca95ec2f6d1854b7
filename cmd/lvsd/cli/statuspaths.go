package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

// printPaths prints an instance's heartbeat paths under it: the age of
// each path's last advert, and SILENT for one that lost the peer while
// another still hears it.
func printPaths(w io.Writer, now time.Time, ps []api.HeartbeatPath) {
	for _, p := range ps {
		heard := "none heard"
		if !p.LastAdvert.IsZero() {
			heard = ago(now, p.LastAdvert)
		}
		mark := ""
		if p.Silent {
			mark = " SILENT"
		}
		fmt.Fprintf(w, "  path %s\t%s\t%s%s\t\t\t\t%d silences\n", p.Interface, p.Source, heard, mark, p.Silences)
	}
}
