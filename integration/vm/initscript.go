package vm

import (
	"fmt"
	"path"
	"strings"
)

// Paths shared by the host and the guest scripts.
const (
	guestDir    = "/.lvsd-vm"       // in the overlay, made by stage 1
	guestOut    = guestDir + "/out" // the read-write results share
	guestBB     = guestDir + "/busybox"
	hostTag     = "hostroot" // 9p tag of the host's root
	outTag      = "lvsdout"  // 9p tag of the results share
	bootEnvFile = "boot.env" // results share: kernel and module paths
	runFile     = "run.sh"   // results share: the command
	stdoutFile  = "stdout"   // results share: the command's stdout
	stderrFile  = "stderr"   // results share: the command's stderr
	statusFile  = "status"   // results share: exit status, written last
	guestPath   = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// stage1 is /init in the initramfs. It loads the 9p and overlay
// modules, mounts the host's root read-only with a tmpfs overlay on
// top, binds the unpacked kernel modules over /lib/modules/VERSION and
// switch_roots into the overlay. switch_root, not chroot: the kernel
// runs /sbin/modprobe relative to PID 1's root, so module autoload
// (ip_vs, its schedulers) only works from the real root. A failure
// powers off without a status file, which the host reports as no result.
const stage1 = `#!/bin/busybox sh
bb=/bin/busybox
fail() {
	echo "lvsd-vm: stage 1: $*" >&2
	$bb poweroff -f
	exit 1
}
$bb mount -t proc proc /proc || fail "mount /proc"
$bb mount -t sysfs sysfs /sys || fail "mount /sys"
$bb mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
for m in /modules/*.ko; do
	$bb insmod "$m" || fail "insmod $m"
done
$bb mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose ` + hostTag + ` /lower || fail "mount host root"
$bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 ` + outTag + ` /out || fail "mount results"
. /out/` + bootEnvFile + ` || fail "read ` + bootEnvFile + `"
$bb mount -t tmpfs -o mode=0755 tmpfs /rw || fail "mount tmpfs"
$bb mkdir -p /rw/upper /rw/work
$bb mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "mount overlay"
$bb mkdir -p "/newroot/lib/modules/$KVER" /newroot` + guestOut + `
$bb mount --bind "/lower$MODULES" "/newroot/lib/modules/$KVER" || fail "bind modules"
$bb cp /bin/busybox /init2 /newroot` + guestDir + `/ || fail "copy stage 2"
$bb mount --move /out /newroot` + guestOut + ` || fail "move results"
$bb umount /proc /sys /dev
exec $bb switch_root /newroot ` + guestBB + ` sh ` + guestDir + `/init2
`

// stage2 runs as PID 1 in the overlay root. It mounts the usual
// pseudo file systems (but no tmpfs over /tmp: the overlay's /tmp is
// already writable, and it shows the host's /tmp, where many people
// clone a project to try it, with the test binaries built there), brings lo up (else the kernel rejects IPVS
// real servers as "not unicast"), runs run.sh with its output in the
// results share, writes the exit status last, syncs and powers off.
const stage2 = `bb=` + guestBB + `
out=` + guestOut + `
fail() {
	echo "lvsd-vm: stage 2: $*" >&2
	$bb poweroff -f
	exit 1
}
$bb mount -t proc proc /proc || fail "mount /proc"
$bb mount -t sysfs sysfs /sys || fail "mount /sys"
$bb mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
$bb mkdir -p /dev/pts /dev/shm
$bb mount -t devpts devpts /dev/pts || fail "mount /dev/pts"
$bb mount -t tmpfs -o mode=1777 tmpfs /dev/shm || fail "mount /dev/shm"
$bb mount -t tmpfs -o mode=0755 tmpfs /run || fail "mount /run"
$bb ip link set lo up || fail "ip link set lo up"
$bb hostname lvsd-vm
$bb sh $out/` + runFile + ` </dev/null >$out/` + stdoutFile + ` 2>$out/` + stderrFile + `
echo $? >$out/` + statusFile + `.tmp && $bb mv $out/` + statusFile + `.tmp $out/` + statusFile + `
$bb sync
$bb poweroff -f
echo o >/proc/sysrq-trigger
`

// shellQuote quotes s for sh as one word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// bootEnv is the boot.env that stage 1 sources: the kernel version and
// the host path of its unpacked modules (symlinks resolved, since the
// guest looks it up below /lower).
func bootEnv(version, modulesDir string) string {
	return fmt.Sprintf("KVER=%s\nMODULES=%s\n", shellQuote(version), shellQuote(modulesDir))
}

// runScript is the run.sh that stage 2 runs: change to dir, then exec
// cmd with only the default environment, env and LVSD_IN_VM=1.
func runScript(cmd []string, dir string, env []string) (string, error) {
	if len(cmd) == 0 || !path.IsAbs(cmd[0]) {
		return "", fmt.Errorf("run script: command must start with an absolute path, got %q", cmd)
	}
	if dir == "" {
		dir = "/"
	}
	words := []string{guestBB, "env", "-i", "PATH=" + guestPath, "HOME=/root"}
	for _, e := range env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return "", fmt.Errorf("run script: environment entry %q is not KEY=VALUE", e)
		}
		words = append(words, e)
	}
	words = append(words, EnvInVM+"=1")
	words = append(words, cmd...)
	var b strings.Builder
	fmt.Fprintf(&b, "cd %s || exit 125\nexec", shellQuote(dir))
	for _, w := range words {
		if strings.ContainsRune(w, 0) {
			return "", fmt.Errorf("run script: NUL byte in %q", w)
		}
		b.WriteString(" " + shellQuote(w))
	}
	b.WriteString("\n")
	return b.String(), nil
}
