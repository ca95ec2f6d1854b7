package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"time"
)

// pollInterval is how often the host copies the guest's output.
const pollInterval = 100 * time.Millisecond

// boot runs qemu until the guest powers off, o.Timeout passes or ctx
// is done, and meanwhile copies the command's output to o.Stdout and
// o.Stderr. The console goes to console (and o.Console).
func (img *Image) boot(ctx context.Context, runDir string, o Options, console io.Writer) error {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	mem := o.Memory
	if mem <= 0 {
		mem = DefaultMemory
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Qemu, qemuArgs(img.Kernel.Vmlinux, img.Initramfs, runDir, mem)...)
	if o.Console != nil {
		console = io.MultiWriter(console, o.Console)
	}
	cmd.Stdout, cmd.Stderr = console, console // stdin is /dev/null
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", Qemu, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	out := []*follower{
		{path: filepath.Join(runDir, stdoutFile), w: orDiscard(o.Stdout)},
		{path: filepath.Join(runDir, stderrFile), w: orDiscard(o.Stderr)},
	}
	err := followUntil(done, out)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("timed out after %v", timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("stopped: %w", ctx.Err())
	case err != nil:
		return fmt.Errorf("%s: %w", Qemu, err)
	}
	return nil
}

// followUntil polls the followers until done delivers qemu's exit, then
// copies what is left. It returns qemu's error, or else the first
// error in copying the output.
func followUntil(done <-chan error, out []*follower) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var copyErr error
	poll := func() {
		for _, f := range out {
			if err := f.poll(); err != nil && copyErr == nil {
				copyErr = err
			}
		}
	}
	for {
		select {
		case err := <-done:
			poll()
			for _, f := range out {
				f.close()
			}
			if err != nil {
				return err
			}
			return copyErr
		case <-tick.C:
			poll()
		}
	}
}

// orDiscard returns w, or io.Discard if w is nil.
func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
