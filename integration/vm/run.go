package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoResult means that the guest stopped, or was stopped, without
// writing the command's exit status: the outcome of the command is
// unknown and must never count as success.
var ErrNoResult = errors.New("no result from guest")

// Defaults of Options.
const (
	DefaultTimeout = 10 * time.Minute
	DefaultMemory  = 512 // MiB; 64 MiB hangs, 128 MiB is tight
)

// hiddenInGuest are host directories that the guest covers with its
// own file systems, so a command or working directory there is unusable.
// /tmp is not one: the guest writes to it through the overlay.
var hiddenInGuest = []string{"/run", "/proc", "/sys", "/dev", guestDir}

// Options describes one command to run in a fresh VM.
type Options struct {
	// Cmd is the program, by absolute host path, and its arguments.
	// The guest sees the host's root as it was at boot, so build the
	// program first, and not below /run.
	Cmd []string
	// Dir is the working directory (default /).
	Dir string
	// Env holds KEY=VALUE entries added to PATH, HOME and LVSD_IN_VM=1.
	Env []string
	// Timeout bounds the VM from qemu's start to its exit
	// (default DefaultTimeout).
	Timeout time.Duration
	// Memory is the guest's RAM in MiB (default DefaultMemory).
	Memory int
	// Stdout and Stderr receive the command's output while it runs.
	// Nil discards it.
	Stdout, Stderr io.Writer
	// Console, if not nil, receives the guest's serial console.
	Console io.Writer
	// CacheDir holds kernels and initramfs images (default
	// DefaultCacheDir()).
	CacheDir string
	// Log, if not nil, receives one line per preparation step.
	Log io.Writer
}

// Image is a prepared kernel and initramfs, ready to boot many times.
type Image struct {
	// Kernel is the unpacked kernel.
	Kernel *Kernel
	// Initramfs is the gzipped cpio archive that qemu loads.
	Initramfs string
}

// Prepare makes sure that cacheDir (DefaultCacheDir() if empty) holds
// a kernel and an initramfs, downloading and building what is missing.
func Prepare(ctx context.Context, cacheDir string, log io.Writer) (*Image, error) {
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	k, err := PrepareKernel(ctx, cacheDir, log)
	if err != nil {
		return nil, err
	}
	initrd, err := PrepareInitramfs(ctx, k, log)
	if err != nil {
		return nil, err
	}
	return &Image{Kernel: k, Initramfs: initrd}, nil
}

// Run prepares an image (see Prepare) and runs o.Cmd in it. It returns
// the command's exit status, or an error wrapping ErrNoResult, with the
// end of the guest's console, when the guest produced none.
func Run(ctx context.Context, o Options) (int, error) {
	img, err := Prepare(ctx, o.CacheDir, o.Log)
	if err != nil {
		return -1, err
	}
	return img.Run(ctx, o)
}

// Run boots a fresh VM from img, runs o.Cmd and returns its exit status.
// If the guest ends or times out without writing the status, the error
// wraps ErrNoResult and carries the end of the guest's console.
func (img *Image) Run(ctx context.Context, o Options) (int, error) {
	if err := o.check(); err != nil {
		return -1, err
	}
	runDir, err := os.MkdirTemp("", "lvsd-vm-")
	if err != nil {
		return -1, fmt.Errorf("vm run: %w", err)
	}
	defer os.RemoveAll(runDir)
	if err := img.writeRunDir(runDir, o); err != nil {
		return -1, err
	}
	console := &tailBuffer{max: 16 << 10}
	bootErr := img.boot(ctx, runDir, o, console)
	code, err := readStatus(runDir)
	if err != nil {
		if bootErr == nil {
			bootErr = err
		}
		return -1, fmt.Errorf("vm run %s: %w: %v\n--- guest console (tail) ---\n%s--- end of guest console ---",
			o.Cmd[0], ErrNoResult, bootErr, console.String())
	}
	return code, nil
}

// readStatus returns the exit status that the guest wrote last.
func readStatus(runDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(runDir, statusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return -1, errors.New("guest powered off without an exit status")
	}
	if err != nil {
		return -1, fmt.Errorf("read exit status: %w", err)
	}
	return parseStatus(b)
}

// check validates o before anything starts.
func (o *Options) check() error {
	if len(o.Cmd) == 0 {
		return errors.New("vm run: no command")
	}
	paths := []string{o.Cmd[0]}
	if o.Dir != "" {
		paths = append(paths, o.Dir)
	}
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("vm run %s: not an absolute path", p)
		}
		for _, h := range hiddenInGuest {
			if p == h || strings.HasPrefix(p, h+"/") {
				return fmt.Errorf("vm run %s: the guest mounts its own %s over it", p, h)
			}
		}
	}
	if _, err := os.Stat(o.Cmd[0]); err != nil {
		return fmt.Errorf("vm run: %w", err)
	}
	if _, err := exec.LookPath(Qemu); err != nil {
		return fmt.Errorf("vm run: find %s (install qemu-system-x86): %w", Qemu, err)
	}
	return nil
}

// writeRunDir writes boot.env and run.sh into the results share.
func (img *Image) writeRunDir(runDir string, o Options) error {
	mods, err := filepath.EvalSymlinks(img.Kernel.ModulesDir())
	if err != nil {
		return fmt.Errorf("vm run: modules: %w", err)
	}
	script, err := runScript(o.Cmd, o.Dir, o.Env)
	if err != nil {
		return err
	}
	env := bootEnv(img.Kernel.Version, mods)
	if err := os.WriteFile(filepath.Join(runDir, bootEnvFile), []byte(env), 0o644); err != nil {
		return fmt.Errorf("vm run: %w", err)
	}
	if err := os.WriteFile(filepath.Join(runDir, runFile), []byte(script), 0o644); err != nil {
		return fmt.Errorf("vm run: %w", err)
	}
	return nil
}
