package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

// TestPrintLateness checks the line under an instance, and that an
// instance that sent no timed advert gets none.
func TestPrintLateness(t *testing.T) {
	var b strings.Builder
	printLateness(&b, nil)
	printLateness(&b, &api.AdvertLateness{Count: 1204, P50: 50 * time.Microsecond, P99: time.Millisecond,
		Max: 3217 * time.Microsecond})
	if want := "  adverts late: 1204 timed, p50 <= 50µs, p99 <= 1ms, max 3.22ms\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
