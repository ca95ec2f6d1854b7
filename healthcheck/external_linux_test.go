package healthcheck

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// wantDead waits for pid to have exited (a zombie counts: it runs no
// more), on a pidfd, which becomes readable when the process exits.
func wantDead(t *testing.T, pid int, what string) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return // exited and reaped
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(guard.Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd of %d: %v", pid, err)
		}
		if n == 0 {
			t.Errorf("%s (pid %d) still runs", what, pid)
		}
		return
	}
}
