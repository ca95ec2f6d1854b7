package vm

import (
	"strconv"
	"strings"
)

// Qemu is the emulator the harness runs (Debian package qemu-system-x86).
const Qemu = "qemu-system-x86_64"

// kernelCmdline is the guest kernel's command line. panic=-1 makes a
// dying guest reboot at once, and -no-reboot turns that into an exit.
const kernelCmdline = "console=ttyS0 quiet loglevel=3 panic=-1"

// qemuArgs returns the arguments that boot vmlinux with initrd, the
// host's root as a read-only 9p share and runDir as the read-write
// results share. KVM is not used: it does not work on the machines
// this runs on, and TCG boots in about 3 s. There is no network device.
func qemuArgs(vmlinux, initrd, runDir string, memMB int) []string {
	return []string{
		"-machine", "pc", "-cpu", "qemu64", "-m", strconv.Itoa(memMB), "-smp", "1",
		"-accel", "tcg", "-nodefaults", "-no-reboot", "-display", "none",
		"-serial", "stdio",
		"-kernel", vmlinux, "-initrd", initrd, "-append", kernelCmdline,
		"-virtfs", "local,path=/,mount_tag=" + hostTag +
			",security_model=none,readonly=on,multidevs=remap",
		"-virtfs", "local,path=" + qemuEscape(runDir) + ",mount_tag=" + outTag +
			",security_model=none,multidevs=remap",
	}
}

// qemuEscape doubles commas, which separate qemu's sub-options.
func qemuEscape(s string) string {
	return strings.ReplaceAll(s, ",", ",,")
}
