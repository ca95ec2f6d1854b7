package vm

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// inOrder fails the test unless each string occurs in s after the
// previous one.
func inOrder(t *testing.T, name, s string, parts ...string) {
	t.Helper()
	at := 0
	for _, p := range parts {
		i := strings.Index(s[at:], p)
		if i < 0 {
			t.Errorf("%s: %q missing (after byte %d)", name, p, at)
			return
		}
		at += i + len(p)
	}
}

func TestStage1(t *testing.T) {
	inOrder(t, "stage1", stage1,
		"#!/bin/busybox sh\n",
		"mount -t proc", "mount -t devtmpfs",
		"for m in /modules/*.ko", "insmod \"$m\"",
		"mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower",
		"mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 lvsdout /out",
		". /out/boot.env",
		"mount -t tmpfs", "mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot",
		`mount --bind "/lower$MODULES" "/newroot/lib/modules/$KVER"`,
		"cp /bin/busybox /init2 /newroot/.lvsd-vm/",
		"mount --move /out /newroot/.lvsd-vm/out",
		"exec $bb switch_root /newroot /.lvsd-vm/busybox sh /.lvsd-vm/init2",
	)
	if strings.Contains(stage1, "chroot ") {
		t.Error("stage1 uses chroot; the kernel's modprobe needs switch_root")
	}
}

func TestStage2(t *testing.T) {
	inOrder(t, "stage2", stage2,
		"mount -t proc", "mount -t sysfs", "mount -t devtmpfs",
		"mount -t tmpfs -o mode=0755 tmpfs /run",
		"ip link set lo up",
		"sh $out/run.sh </dev/null >$out/stdout 2>$out/stderr",
		"echo $? >$out/status.tmp", "mv $out/status.tmp $out/status",
		"sync", "poweroff -f",
	)
	if strings.Contains(stage2, " /tmp ") {
		t.Error("stage2 covers /tmp: a checkout under the host's /tmp would vanish in the guest")
	}
	if strings.Count(stage2, "status") != 3 {
		t.Error("stage2 must write the status file exactly once, at the end")
	}
}

func TestScriptsParse(t *testing.T) {
	for _, sh := range []string{"/bin/sh", Busybox} {
		if _, err := os.Stat(sh); err != nil {
			continue
		}
		for name, s := range map[string]string{"stage1": stage1, "stage2": stage2} {
			args := []string{"-n", "-c", s}
			if sh == Busybox {
				args = append([]string{"sh"}, args...)
			}
			if out, err := exec.Command(sh, args...).CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v: %s", sh, name, err, out)
			}
		}
	}
}

func TestBootEnvQuotes(t *testing.T) {
	got := bootEnv("6.1.0-48-amd64", "/home/o'brien/.cache/lvsd-vm/kernel/x/root/lib/modules/6.1.0-48-amd64")
	want := "KVER='6.1.0-48-amd64'\nMODULES='/home/o'\\''brien/.cache/lvsd-vm/kernel/x/root/lib/modules/6.1.0-48-amd64'\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// TestRunScriptRuns runs the generated run.sh on the host, with the
// guest's busybox path replaced, and checks what the command received.
func TestRunScriptRuns(t *testing.T) {
	if _, err := os.Stat(Busybox); err != nil {
		t.Skip("no busybox")
	}
	dir := t.TempDir()
	args := []string{Busybox, "sh", "-c", `pwd; printf '<%s>' "$@"; echo; echo "$LVSD_IN_VM|$K|$HOME"; env | wc -l`,
		"x", "a b", "it's", "$HOME", `"q"`, ""}
	script, err := runScript(args, dir, []string{"K=v w"})
	if err != nil {
		t.Fatal(err)
	}
	script = strings.ReplaceAll(script, guestBB, Busybox)
	out, err := exec.Command(Busybox, "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh: %v: %s", err, out)
	}
	want := dir + "\n<a b><it's><$HOME><\"q\"><>\n1|v w|/root\n"
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("got %q\nwant prefix %q", out, want)
	}
}

func TestRunScriptRejects(t *testing.T) {
	for _, tc := range []struct {
		cmd []string
		env []string
	}{
		{nil, nil},
		{[]string{"relative/test"}, nil},
		{[]string{"/bin/true"}, []string{"NOEQUALS"}},
		{[]string{"/bin/true"}, []string{"=v"}},
		{[]string{"/bin/true", "a\x00b"}, nil},
	} {
		if _, err := runScript(tc.cmd, "/", tc.env); err == nil {
			t.Errorf("runScript(%q, %q): no error", tc.cmd, tc.env)
		}
	}
}
