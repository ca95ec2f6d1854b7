package vm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
)

// tailBuffer is an io.Writer that keeps the last max bytes written to
// it: the end of the guest's console for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write keeps the tail of p. It never fails.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, starting at a line boundary when the
// buffer has been cut, with carriage returns removed.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) == t.max {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.ReplaceAll(string(b), "\r", "")
}

// follower copies what is appended to a file to a writer, like tail -f.
// The guest writes the command's output into the results share, and
// the host follows it while the VM runs.
type follower struct {
	path string
	w    io.Writer
	f    *os.File
}

// poll copies whatever has been appended since the last call. A file
// that does not exist yet is not an error.
func (fl *follower) poll() error {
	if fl.f == nil {
		f, err := os.Open(fl.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow %s: %w", fl.path, err)
		}
		fl.f = f
	}
	if _, err := io.Copy(fl.w, fl.f); err != nil {
		return fmt.Errorf("follow %s: %w", fl.path, err)
	}
	return nil
}

// close releases the file.
func (fl *follower) close() {
	if fl.f != nil {
		fl.f.Close()
	}
}

// parseStatus reads the exit status that stage 2 writes.
func parseStatus(data []byte) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("parse exit status %q: bad number", data)
	}
	return n, nil
}
