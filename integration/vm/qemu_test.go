package vm

import (
	"slices"
	"strings"
	"testing"
)

func TestQemuArgs(t *testing.T) {
	args := qemuArgs("/c/vmlinux", "/c/initramfs.cpio.gz", "/tmp/run,1", 512)
	joined := strings.Join(args, " ")
	for _, want := range []string{
		"-machine pc", "-cpu qemu64", "-m 512", "-smp 1", "-accel tcg", "-nodefaults",
		"-no-reboot", "-display none", "-serial stdio",
		"-kernel /c/vmlinux", "-initrd /c/initramfs.cpio.gz",
		"-append console=ttyS0 quiet loglevel=3 panic=-1",
		"-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
		"-virtfs local,path=/tmp/run,,1,mount_tag=lvsdout,security_model=none,multidevs=remap",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q in %q", want, joined)
		}
	}
	if strings.Contains(joined, "kvm") {
		t.Errorf("KVM in %q: it does not work here", joined)
	}
	for _, nic := range []string{"-net", "-netdev", "-nic", "-device"} {
		if slices.Contains(args, nic) {
			t.Errorf("%s in %q: the guest must have no network device", nic, joined)
		}
	}
}
