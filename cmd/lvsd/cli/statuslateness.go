package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

// printLateness prints under an instance how late it sent its timed
// adverts: the bucket bounds of the median and the 99th percentile, and
// the worst, e.g. "adverts late: 1204 timed, p50 <= 50µs, p99 <= 1ms,
// max 3.2ms".
func printLateness(w io.Writer, l *api.AdvertLateness) {
	if l == nil {
		return
	}
	fmt.Fprintf(w, "  adverts late: %d timed, p50 <= %s, p99 <= %s, max %s\n", l.Count, lateBound(l.P50), lateBound(l.P99),
		l.Max.Round(10*time.Microsecond))
}

func lateBound(d time.Duration) string {
	return d.Round(time.Microsecond).String()
}
