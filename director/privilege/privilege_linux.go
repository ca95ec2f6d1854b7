package privilege

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// KeepToSelf clears the ambient and inheritable capability sets of every
// thread of the process and checks that it took. Capabilities are per
// thread in Linux and Go may fork a child from any thread, so a change
// made on one thread alone would leave the others leaking; AllThreadsSyscall
// makes it on all of them, and threads created later are cloned from them.
// A process whose inheritable set is already empty (root, or nothing
// granted) has nothing to clear: the kernel keeps ambient within
// inheritable. Call it before starting any child.
func KeepToSelf() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	if data[0].Inheritable == 0 && data[1].Inheritable == 0 {
		return nil
	}
	_, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0)
	if e == syscall.ENOTSUP {
		return fmt.Errorf("clear ambient capabilities: %w", ErrCgo)
	}
	if e != 0 {
		return fmt.Errorf("clear ambient capabilities: %w", e)
	}
	// Each thread sets its own (pid 0): permitted and effective as they
	// are, inheritable empty.
	hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("clear inheritable capabilities: %w", e)
	}
	return checkThreads()
}

// checkThreads reads every thread's sets back from /proc: none may have an
// ambient or inheritable capability left.
func checkThreads() error {
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(tasks) == 0 {
		return fmt.Errorf("list threads: %v (%d found)", err, len(tasks))
	}
	for _, t := range tasks {
		s, err := ReadStatus(t)
		if os.IsNotExist(err) {
			continue // the thread exited meanwhile
		}
		if err != nil {
			return err
		}
		if s.Ambient != 0 || s.Inheritable != 0 {
			return fmt.Errorf("%s: ambient %#x, inheritable %#x left after clearing", t, s.Ambient, s.Inheritable)
		}
	}
	return nil
}
