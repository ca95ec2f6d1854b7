package vm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Environment variables the harness reads on the host.
const (
	// EnvCache names the cache directory (default $HOME/.cache/lvsd-vm).
	EnvCache = "LVSD_VM_CACHE"
	// EnvKernel pins the kernel version (uname -r, for example
	// 6.1.0-48-amd64) instead of resolving linux-image-amd64 with apt.
	EnvKernel = "LVSD_VM_KERNEL"
	// EnvInVM is set to 1 for the command run in the guest.
	EnvInVM = "LVSD_IN_VM"
)

// completeMarker is written last into a kernel's cache directory.
const completeMarker = "complete"

// DefaultCacheDir returns $LVSD_VM_CACHE, or else $HOME/.cache/lvsd-vm.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv(EnvCache); d != "" {
		return filepath.Abs(d)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	return filepath.Join(home, ".cache", "lvsd-vm"), nil
}

// isComplete reports whether dir holds the completion marker.
func isComplete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, completeMarker))
	return err == nil
}

// markComplete writes the completion marker of dir.
func markComplete(dir, note string) error {
	return writeFileAtomic(filepath.Join(dir, completeMarker), []byte(note+"\n"), 0o644)
}

// staleAfter is how long a cached kernel version may go unused before
// a run of another version removes it (about 450 MB each).
const staleAfter = 7 * 24 * time.Hour

// touchKernel records in the marker's time that dir's kernel was used.
func touchKernel(dir string, now time.Time) {
	os.Chtimes(filepath.Join(dir, completeMarker), now, now) // best effort
}

// pruneKernels removes the kernel versions in cacheDir other than keep
// that were last used (or, if incomplete, changed) before now minus
// staleAfter. Debian replaces kernel ABIs every few months, so without
// this the cache would only grow.
func pruneKernels(cacheDir, keep string, now time.Time, log io.Writer) error {
	root := filepath.Join(cacheDir, "kernel")
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("prune %s: %w", root, err)
	}
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if e.Name() == keep || !e.IsDir() {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, completeMarker))
		if err != nil {
			st, err = os.Stat(dir)
		}
		if err != nil || now.Sub(st.ModTime()) < staleAfter {
			continue
		}
		logf(log, "removing kernel %s, unused since %s", e.Name(), st.ModTime().Format(time.DateOnly))
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("prune %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// logf prints one progress line to w, if w is not nil.
func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "vm: "+format+"\n", args...)
	}
}
