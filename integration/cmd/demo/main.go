// Command demo runs a pair of lvsd directors in network namespaces in
// front of three nginx app servers, drives traffic through the VIP, and
// makes things happen to it: the master dies, comes back, an app server
// stops, a planned switchover. It prints what the client saw. On a kernel
// without IPVS it runs itself inside the VM harness (Debian's kernel under
// qemu). `make demo` builds and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lvsd/integration/vm"
)

func main() {
	lvsd := flag.String("lvsd", ".build/lvsd", "the lvsd binary")
	examples := flag.String("examples", "examples/pair", "directory with director-a.yaml, director-b.yaml and services.d")
	flag.Parse()
	if err := run(abs(*lvsd), abs(*examples)); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func run(lvsd, examples string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces)")
	}
	if _, err := netlink.GenlFamilyGet("IPVS"); err != nil {
		if os.Getenv("LVSD_IN_VM") == "1" {
			return fmt.Errorf("no IPVS even in the VM: %v", err)
		}
		return inVM(lvsd, examples)
	}
	return demo(lvsd, examples, os.Stdout)
}

// inVM runs this same program in the VM harness, where the kernel has IPVS.
func inVM(lvsd, examples string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	wd, _ := os.Getwd()
	fmt.Println("This kernel has no IPVS: running the demo in a VM with Debian's kernel (qemu, about 10 s to prepare and boot).")
	code, err := vm.Run(context.Background(), vm.Options{
		Cmd: []string{self, "-lvsd", lvsd, "-examples", examples}, Dir: wd, Timeout: 15 * time.Minute,
		Stdout: os.Stdout, Stderr: os.Stderr, Log: os.Stderr,
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("demo in the VM exited %d", code)
	}
	return nil
}
