package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestOptionsCheck(t *testing.T) {
	if _, err := exec.LookPath(Qemu); err != nil {
		t.Skip("qemu not installed")
	}
	underTmp := filepath.Join(t.TempDir(), "x.test")
	if err := os.WriteFile(underTmp, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		o    Options
		want string // "" = valid
	}{
		{Options{Cmd: []string{"/usr/bin/env", "-i"}, Dir: "/usr/share"}, ""},
		{Options{Cmd: []string{"/usr/bin/env"}}, ""},
		{Options{Cmd: []string{"/nonexistent/integration.test"}}, "no such file"},
		{Options{}, "no command"},
		{Options{Cmd: []string{"integration.test"}}, "not an absolute path"},
		{Options{Cmd: []string{"/usr/bin/env"}, Dir: "work"}, "not an absolute path"},
		// A checkout under /tmp works: the guest writes /tmp through its
		// overlay instead of covering it (t.TempDir is under /tmp).
		{Options{Cmd: []string{underTmp}, Dir: filepath.Dir(underTmp)}, ""},
		{Options{Cmd: []string{"/usr/bin/env"}, Dir: "/run/user/0"}, "mounts its own /run"},
	} {
		err := tc.o.check()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.o, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: got %v, want %q", tc.o, err, tc.want)
		}
	}
}
