package privilege

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// lvsdCaps are what the systemd unit grants lvsd.
const lvsdCaps = NetAdmin | NetRaw

// runAsLvsd builds testdata/capchild without cgo (AllThreadsSyscall
// refuses cgo binaries, and `go test -race` links cgo) and runs it the way
// systemd runs lvsd: as nobody, with CAP_NET_ADMIN and CAP_NET_RAW as
// ambient capabilities and nothing else in the bounding set.
func runAsLvsd(t *testing.T, args ...string) report {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as another user with capabilities")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	dir, err := os.MkdirTemp("", "privilege-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // nobody must reach the binary
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "capchild")
	build := exec.Command("go", "build", "-o", bin, "./testdata/capchild")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build capchild: %v\n%s", err, out)
	}
	caps := "-all,+net_admin,+net_raw"
	cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=" + caps, "--ambient-caps=" + caps, "--bounding-set=" + caps, "--", bin}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("capchild %v: %v\n%s", args, err, stderr.String())
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("capchild output %q: %v", out, err)
	}
	if len(r.Threads) < 2 || len(r.Children) == 0 {
		t.Fatalf("capchild saw %d threads and %d children, want several of each", len(r.Threads), len(r.Children))
	}
	return r
}

// report mirrors testdata/capchild's output.
type report struct {
	Threads  []Sets
	Children []Sets
}

// TestKeepToSelf: after KeepToSelf every thread still holds lvsd's
// capabilities in its permitted and effective sets, none in its ambient or
// inheritable set, and the children started from any thread hold none.
func TestKeepToSelf(t *testing.T) {
	r := runAsLvsd(t, "-keep")
	for i, s := range r.Threads {
		if s.Permitted != lvsdCaps || s.Effective != lvsdCaps || s.Ambient != 0 || s.Inheritable != 0 {
			t.Errorf("thread %d: %+v, want permitted and effective %#x, ambient and inheritable 0", i, s, lvsdCaps)
		}
	}
	for i, s := range r.Children {
		if s.Permitted|s.Effective|s.Ambient|s.Inheritable != 0 {
			t.Errorf("child %d holds capabilities: %+v", i, s)
		}
		if s.Bounding != lvsdCaps {
			t.Errorf("child %d: bounding set %#x, want %#x (setpriv's)", i, s.Bounding, lvsdCaps)
		}
	}
}

// TestWithoutKeepToSelfChildrenInherit is the control: the same process
// without KeepToSelf passes its ambient capabilities on, so the test above
// would see a leak.
func TestWithoutKeepToSelfChildrenInherit(t *testing.T) {
	r := runAsLvsd(t)
	for i, s := range r.Children {
		if s.Ambient != lvsdCaps || s.Effective != lvsdCaps {
			t.Errorf("child %d: %+v, want ambient and effective %#x inherited", i, s, lvsdCaps)
		}
	}
}

func TestParseStatus(t *testing.T) {
	const status = "Name:\tlvsd\nCapInh:\t0000000000000000\nCapPrm:\t0000000000003000\n" +
		"CapEff:\t0000000000003000\nCapBnd:\t0000000000003000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
	s, err := ParseStatus(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Sets{Permitted: lvsdCaps, Effective: lvsdCaps, Bounding: lvsdCaps}); s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	if _, err := ParseStatus(strings.NewReader("CapInh:\t0\nCapPrm:\tzz\n")); err == nil {
		t.Error("a bad hex value parsed")
	}
	if _, err := ParseStatus(strings.NewReader("CapInh:\t0\n")); err == nil {
		t.Error("a status without every Cap line parsed")
	}
}
