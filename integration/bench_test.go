//go:build integration

package integration

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs this binary as a health-check child when hcbEnvPhase is
// set (hcbRun starts it so, in the listeners' namespace), as the CPU
// stall probe when stallEnvChild is (startStallProbe), and runs the
// tests and benchmarks otherwise. The child is not a benchmark run again,
// so that both builds have it: BenchmarkHealthChecks (host) and
// BenchmarkIPVSHealthVsKeepalived (VM) start it alike.
func TestMain(m *testing.M) {
	if os.Getenv(stallEnvChild) != "" {
		if err := stallChild(); err != nil {
			fmt.Fprintln(os.Stderr, "CPU stall probe:", err)
			os.Exit(1)
		}
	}
	if os.Getenv(hcbEnvPhase) != "" {
		if err := hcbChild(); err != nil {
			fmt.Fprintln(os.Stderr, "health-check child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchRow prints one row for the combined table that make bench builds
// (scripts/bench.sh): figure, lvsd, the reference measured beside it, note.
func benchRow(figure, lvsd, reference, note string) {
	fmt.Printf("BENCH|%s|%s|%s|%s\n", figure, lvsd, reference, note)
}
