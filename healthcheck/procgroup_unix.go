//go:build unix

package healthcheck

import (
	"os/exec"
	"syscall"
)

// inGroup starts cmd as the leader of a new process group and makes
// cancellation kill the whole group, so that a shell script's children
// die with it.
func inGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}

// killGroup kills what is left of cmd's process group once cmd has ended,
// so that no background child of a check outlives it. The group's id stays
// reserved while any member lives; once all are gone the kill finds
// nothing, unless the whole pid space wrapped in the microseconds since.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
