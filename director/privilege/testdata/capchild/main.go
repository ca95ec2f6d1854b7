// Command capchild is privilege's test helper. Run as a non-root user
// holding ambient capabilities, it optionally calls KeepToSelf, then
// starts children (itself with -dump) from several OS threads and prints,
// as JSON, its own threads' capability sets and those of its children.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/lvsd/lvsd/director/privilege"
)

// report is what the test reads.
type report struct {
	Threads  []privilege.Sets
	Children []privilege.Sets
}

func main() {
	dump := flag.Bool("dump", false, "print this process's capability sets and exit")
	keep := flag.Bool("keep", false, "call privilege.KeepToSelf before starting children")
	flag.Parse()
	if *dump {
		s, err := privilege.ReadStatus("/proc/self/status")
		exitOn(err)
		exitOn(json.NewEncoder(os.Stdout).Encode(s))
		return
	}
	// Several threads exist before KeepToSelf, each pinned by a goroutine
	// that later forks a child from it: a change made on one thread only
	// would show here.
	const n = 8
	start, done := make(chan struct{}), make(chan privilege.Sets, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-start
			done <- child()
		})
	}
	if *keep {
		exitOn(privilege.KeepToSelf())
	}
	var r report
	tasks, err := filepath.Glob("/proc/self/task/*/status")
	exitOn(err)
	for _, t := range tasks {
		s, err := privilege.ReadStatus(t)
		exitOn(err)
		r.Threads = append(r.Threads, s)
	}
	close(start)
	wg.Wait()
	close(done)
	for s := range done {
		r.Children = append(r.Children, s)
	}
	exitOn(json.NewEncoder(os.Stdout).Encode(r))
}

// child runs this program with -dump, without a shell, and returns the
// sets it printed.
func child() privilege.Sets {
	self, err := os.Executable()
	exitOn(err)
	out, err := exec.Command(self, "-dump").Output()
	exitOn(err)
	var s privilege.Sets
	exitOn(json.Unmarshal(out, &s))
	return s
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "capchild:", err)
		os.Exit(1)
	}
}
