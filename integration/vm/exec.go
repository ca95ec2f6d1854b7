package vm

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// command runs name with args in dir and returns its standard output.
// A failure carries the tail of the standard error.
func command(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return stdout.String(), fmt.Errorf("run %s %s: %w", name, strings.Join(args, " "), err)
	}
	return stdout.String(), nil
}
