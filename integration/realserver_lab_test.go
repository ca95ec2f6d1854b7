//go:build integration

package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/integration/netlab"
)

// rsLab is a segment with a client, a director holding the VIP on its
// eth0 (so it answers ARP for it) and a DR realserver.
type rsLab struct {
	l                    *netlab.T
	bin                  string
	client, director, rs string
	state                string
}

const rsVIP = "192.0.2.10"

func newRSLab(t *testing.T) *rsLab {
	l := netlab.ForTest(t)
	ns := l.Segment("eth0", map[string]string{"client": "192.0.2.100/24", "director": "192.0.2.1/24", "rs": "192.0.2.11/24"})
	r := &rsLab{l: l, bin: lvsdBinary(t), client: ns["client"], director: ns["director"], rs: ns["rs"],
		state: filepath.Join(l.Dir, "run", "realserver.json")}
	l.In(r.director, "ip", "addr", "add", rsVIP+"/24", "dev", "eth0")
	l.In(r.rs, "ip", "route", "add", "default", "via", "192.0.2.1") // the ARP-facing interface lvsd finds
	return r
}

// lvsd runs lvsd realserver ARGS in the realserver's namespace and
// returns its output and exit status.
func (r *rsLab) lvsd(args ...string) (string, int) {
	r.l.TB.Helper()
	args = append([]string{"netns", "exec", r.rs, r.bin, "realserver"}, args...)
	out, err := exec.Command("ip", append(args, "--state", r.state)...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		r.l.TB.Fatal(err)
	}
	return string(out), 0
}

// snapshot is what the realserver setup may touch in the namespace: its
// addresses, its links, and the ARP and reverse-path settings of every
// interface.
func (r *rsLab) snapshot() string {
	r.l.TB.Helper()
	var b strings.Builder
	b.WriteString(r.l.In(r.rs, "ip", "-o", "addr", "show"))
	b.WriteString(r.l.In(r.rs, "ip", "-o", "link", "show"))
	err := <-r.l.Go(r.rs, func() error { // /proc/sys/net is the opening thread's namespace's
		files, err := filepath.Glob("/proc/sys/net/ipv4/conf/*/*")
		if err != nil {
			return err
		}
		sort.Strings(files)
		for _, f := range files {
			switch filepath.Base(f) {
			case "arp_ignore", "arp_announce", "arp_filter", "rp_filter":
				v, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, "%s=%s", f, v)
			}
		}
		return nil
	})
	r.l.Must(err)
	return b.String()
}
