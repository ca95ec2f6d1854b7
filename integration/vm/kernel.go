package vm

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Kernel is a Debian kernel package unpacked in the cache.
type Kernel struct {
	// Version is the kernel's release (uname -r), such as 6.1.0-48-amd64.
	Version string
	// Dir is the cache directory of this version.
	Dir string
	// Root holds the unpacked package (boot/, lib/modules/).
	Root string
	// Vmlinux is the uncompressed ELF kernel that qemu boots.
	Vmlinux string
}

// ModulesDir returns the unpacked lib/modules/VERSION, with its
// modules.dep made by depmod.
func (k *Kernel) ModulesDir() string {
	return filepath.Join(k.Root, "lib", "modules", k.Version)
}

// PrepareKernel makes sure that cacheDir holds a complete unpacked
// kernel and returns it. The version is $LVSD_VM_KERNEL, or else the
// one linux-image-amd64 depends on. A kernel directory without its
// completion marker is left over from an interrupted run: it is removed
// and prepared again. Progress goes to log, which may be nil.
func PrepareKernel(ctx context.Context, cacheDir string, log io.Writer) (*Kernel, error) {
	cacheDir, err := filepath.Abs(cacheDir) // the guest finds modules by absolute path
	if err != nil {
		return nil, fmt.Errorf("prepare kernel: %w", err)
	}
	pkg := ""
	if v := os.Getenv(EnvKernel); v != "" {
		pkg = "linux-image-" + v
	} else {
		if pkg, err = resolveCached(ctx, cacheDir, log); err != nil {
			return nil, err
		}
	}
	v := kernelVersion(pkg)
	if v == "" || strings.ContainsAny(v, "/ \t\n'\"") {
		return nil, fmt.Errorf("prepare kernel %q: bad version", v)
	}
	dir := filepath.Join(cacheDir, "kernel", v)
	k := &Kernel{Version: v, Dir: dir, Root: filepath.Join(dir, "root"),
		Vmlinux: filepath.Join(dir, "vmlinux")}
	if !isComplete(dir) {
		if err := ensureKernel(ctx, k, cacheDir, pkg, log); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	touchKernel(dir, now)
	if err := pruneKernels(cacheDir, v, now, log); err != nil {
		logf(log, "%v", err) // only housekeeping: the run can go on
	}
	return k, nil
}

// ensureKernel unpacks k under the cache lock, unless another run
// completed it while this one waited for the lock.
func ensureKernel(ctx context.Context, k *Kernel, cacheDir, pkg string, log io.Writer) error {
	unlock, err := lockCache(cacheDir)
	if err != nil {
		return err
	}
	defer unlock()
	if isComplete(k.Dir) {
		return nil
	}
	if err := unpackKernel(ctx, k, pkg, log); err != nil {
		return fmt.Errorf("prepare kernel %s: %w", k.Version, err)
	}
	return nil
}

// unpackKernel downloads and unpacks pkg into k.Dir from scratch.
func unpackKernel(ctx context.Context, k *Kernel, pkg string, log io.Writer) error {
	if err := os.RemoveAll(k.Dir); err != nil {
		return fmt.Errorf("clean %s: %w", k.Dir, err)
	}
	if err := os.MkdirAll(k.Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", k.Dir, err)
	}
	logf(log, "downloading %s into %s", pkg, k.Dir)
	deb, err := downloadPackage(ctx, pkg, k.Dir, log)
	if err != nil {
		return err
	}
	logf(log, "unpacking %s", filepath.Base(deb))
	if _, err := command(ctx, "", "dpkg-deb", "-x", deb, k.Root); err != nil {
		return err
	}
	if _, err := command(ctx, "", "depmod", "-b", k.Root, k.Version); err != nil {
		return err
	}
	logf(log, "extracting vmlinux")
	vmlinuz := filepath.Join(k.Root, "boot", "vmlinuz-"+k.Version)
	if err := extractVmlinuxFile(vmlinuz, k.Vmlinux); err != nil {
		return err
	}
	if err := os.Remove(deb); err != nil {
		return fmt.Errorf("remove %s: %w", deb, err)
	}
	return markComplete(k.Dir, pkg)
}
