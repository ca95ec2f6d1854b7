package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// waitDelay is how long an external check's output is still read after
// the command ended or was killed; it bounds the wait for a descendant
// that left the process group but kept stdout open.
const waitDelay = 250 * time.Millisecond

// External runs a program: exit status 0 is healthy. The program gets the
// target's address and port appended to its arguments and set in the
// environment as LVSD_REAL_ADDR and LVSD_REAL_PORT. It is never run by a
// shell. It runs in its own process group, which is killed when ctx is
// done and again when the program ends, so no descendant outlives the
// check.
type External struct {
	path string
	args []string
}

// NewExternal builds an External checker from c.Command.
func NewExternal(c Spec) (*External, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return nil, errors.New("command: empty")
	}
	return &External{path: c.Command[0], args: slices.Clip(c.Command[1:])}, nil
}

// Check runs the command once against target.
func (x *External) Check(ctx context.Context, target netip.AddrPort) error {
	start := time.Now()
	addr, port := target.Addr().String(), strconv.Itoa(int(target.Port()))
	cmd := exec.CommandContext(ctx, x.path, append(x.args, addr, port)...)
	cmd.Env = append(os.Environ(), "LVSD_REAL_ADDR="+addr, "LVSD_REAL_PORT="+port)
	out := &tail{max: 256}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = waitDelay
	inGroup(cmd)
	if err := cmd.Start(); err != nil {
		if ctx.Err() != nil {
			return classify(ctx, start, "external", filepath.Base(x.path), err)
		}
		return &Error{Reason: ReasonLocal, Detail: fmt.Sprintf("external %s: %v", x.path, err), Err: err}
	}
	err := cmd.Wait()
	killGroup(cmd)
	return x.judge(ctx, start, cmd, err, out)
}

// judge turns the command's end into a result.
func (x *External) judge(ctx context.Context, start time.Time, cmd *exec.Cmd, err error, out *tail) error {
	name := filepath.Base(x.path)
	st := cmd.ProcessState
	switch {
	case st != nil && st.Success() && ctx.Err() == nil:
		return nil // also with ErrWaitDelay: a descendant kept stdout open
	case ctx.Err() != nil:
		e := classify(ctx, start, "external", name, ctx.Err())
		if e.Reason == ReasonTimeout {
			e.Detail += " (process group killed)"
		}
		return e
	case st != nil:
		d := fmt.Sprintf("external %s: %s", name, st)
		if s := out.lastLine(); s != "" {
			d += ": " + strconv.Quote(s)
		}
		return &Error{Reason: ReasonExit, Detail: d, Err: err}
	}
	return &Error{Reason: ReasonError, Detail: fmt.Sprintf("external %s: %v", name, err), Err: err}
}

// tail keeps the last max bytes written to it, for the error message.
type tail struct {
	max int
	buf []byte
}

// Write appends p, dropping the oldest bytes beyond max.
func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// lastLine is the last non-empty line of the output.
func (t *tail) lastLine() string {
	b := bytes.TrimSpace(t.buf)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return string(bytes.TrimSpace(b))
}
