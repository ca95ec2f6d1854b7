//go:build !unix

package healthcheck

import "os/exec"

// inGroup is a no-op where there are no process groups: cancellation
// kills only the command itself.
func inGroup(*exec.Cmd) {}

// killGroup is a no-op where there are no process groups.
func killGroup(*exec.Cmd) {}
