// Command vmrun runs one command, typically a static Go test binary,
// inside a throw-away VM with Debian's kernel (see package
// integration/vm), and exits with the command's exit status.
//
//	go run ./integration/cmd/vmrun [-timeout 10m] [-env K=V]... -- /abs/path/test.binary -test.v
//
// Build the binary before running vmrun: the guest sees the host's
// files as they were at boot. When the guest gives no exit status
// (crash, timeout), vmrun says so and exits with status 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/integration/vm"
)

// envFlag collects repeated -env K=V flags.
type envFlag []string

// String returns the collected entries, for flag's help output.
func (e *envFlag) String() string { return strings.Join(*e, " ") }

// Set adds one KEY=VALUE entry.
func (e *envFlag) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

// flags are vmrun's command-line settings.
type flags struct {
	timeout time.Duration
	dir     string
	mem     int
	cache   string
	verbose bool
	env     envFlag
}

// parseFlags parses the command line; ok is false after a usage error.
func parseFlags() (f flags, ok bool) {
	cwd, _ := os.Getwd()
	flag.DurationVar(&f.timeout, "timeout", vm.DefaultTimeout, "limit for the VM, from boot to power-off")
	flag.StringVar(&f.dir, "dir", cwd, "working directory of the command in the guest")
	flag.IntVar(&f.mem, "mem", vm.DefaultMemory, "guest memory in MiB")
	flag.StringVar(&f.cache, "cache", "", "cache directory (default $"+vm.EnvCache+" or $HOME/.cache/lvsd-vm)")
	flag.BoolVar(&f.verbose, "v", false, "copy the guest console to stderr and print timings")
	flag.Var(&f.env, "env", "KEY=VALUE for the command (repeatable); "+vm.EnvInVM+"=1 is always set")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: vmrun [flags] -- /abs/path/program [args...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		return f, false
	}
	return f, true
}

func main() {
	os.Exit(run())
}

// run prepares the image, boots it and returns the exit status.
func run() int {
	f, ok := parseFlags()
	if !ok {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	img, err := vm.Prepare(ctx, f.cache, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmrun: %v\n", err)
		return 2
	}
	prepared := time.Now()
	var console io.Writer
	if f.verbose {
		console = os.Stderr
	}
	code, err := img.Run(ctx, vm.Options{
		Cmd: flag.Args(), Dir: f.dir, Env: f.env, Timeout: f.timeout, Memory: f.mem,
		Stdout: os.Stdout, Stderr: os.Stderr, Console: console,
	})
	if f.verbose {
		fmt.Fprintf(os.Stderr, "vmrun: kernel %s; prepare %.1fs, boot to result %.1fs\n",
			img.Kernel.Version, prepared.Sub(start).Seconds(), time.Since(prepared).Seconds())
	}
	switch {
	case errors.Is(err, vm.ErrNoResult):
		fmt.Fprintf(os.Stderr, "vmrun: FAIL: %v\n", err)
		return 2
	case err != nil:
		fmt.Fprintf(os.Stderr, "vmrun: %v\n", err)
		return 2
	}
	return code
}
