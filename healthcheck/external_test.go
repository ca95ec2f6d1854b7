package healthcheck

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// script writes an executable shell script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// readPID reads a pid that a script wrote to a file.
func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

var realAddr = netip.MustParseAddrPort("192.0.2.7:8080")

func TestExternalArgumentsAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	p := script(t, dir, "args.sh", `printf '%s\n' "$@" > "$OUT"; echo "env $LVSD_REAL_ADDR $LVSD_REAL_PORT" >> "$OUT"`)
	t.Setenv("OUT", out)
	x, err := NewExternal(Spec{Command: []string{p, "--vhost", "a b", "$(touch \"$OUT.pwned\")"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Check(checkCtx(t, 5*time.Second), realAddr); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	want := "--vhost\na b\n$(touch \"$OUT.pwned\")\n192.0.2.7\n8080\nenv 192.0.2.7 8080\n"
	if string(got) != want {
		t.Errorf("script saw\n%s\nwant\n%s", got, want)
	}
	if _, err := os.Stat(out + ".pwned"); err == nil {
		t.Error("an argument went through a shell")
	}
}

func TestExternalExit(t *testing.T) {
	dir := t.TempDir()
	ok := script(t, dir, "ok.sh", "exit 0\n")
	bad := script(t, dir, "bad.sh", "echo starting\necho 'not ready' >&2\nexit 3\n")
	if err := mustExternal(t, ok).Check(checkCtx(t, 5*time.Second), realAddr); err != nil {
		t.Errorf("exit 0: %v", err)
	}
	err := mustExternal(t, bad).Check(checkCtx(t, 5*time.Second), realAddr)
	wantFail(t, err, ReasonExit, `external bad.sh: exit status 3: "not ready"`)

	err = mustExternal(t, filepath.Join(dir, "missing")).Check(checkCtx(t, 5*time.Second), realAddr)
	wantFail(t, err, ReasonLocal, "missing")
}

func TestExternalHangIsKilled(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DIR", dir)
	p := script(t, dir, "hang.sh", `echo $$ > "$DIR/shell"; sleep 60 & echo $! > "$DIR/sleep"; wait`)
	var err error
	within(t, 500*time.Millisecond+time.Second, func() {
		err = mustExternal(t, p).Check(checkCtx(t, 500*time.Millisecond), realAddr)
	})
	wantFail(t, err, ReasonTimeout, "external hang.sh: timeout after", "(process group killed)")
	wantDead(t, readPID(t, filepath.Join(dir, "shell")), "the script")
	wantDead(t, readPID(t, filepath.Join(dir, "sleep")), "its child")
}

func TestExternalBackgroundChildIsReaped(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DIR", dir)
	p := script(t, dir, "fork.sh", `sleep 60 & echo $! > "$DIR/sleep"; exit 0`)
	var err error
	within(t, 2*time.Second, func() { err = mustExternal(t, p).Check(checkCtx(t, 5*time.Second), realAddr) })
	if err != nil {
		t.Errorf("exit 0 with a child left behind: %v", err)
	}
	wantDead(t, readPID(t, filepath.Join(dir, "sleep")), "the background child")
}

func mustExternal(t *testing.T, cmd ...string) *External {
	t.Helper()
	x, err := NewExternal(Spec{Command: cmd})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestNewExternalRefusesEmpty(t *testing.T) {
	if _, err := NewExternal(Spec{}); err == nil {
		t.Error("an empty command was accepted")
	}
}
