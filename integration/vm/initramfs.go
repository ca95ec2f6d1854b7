package vm

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Busybox is the static busybox that becomes the initramfs's shell
// (Debian package busybox-static).
const Busybox = "/bin/busybox"

// initramfsFile is one file of the initramfs.
type initramfsFile struct {
	name string
	perm os.FileMode
	data []byte
}

// PrepareInitramfs returns the path of a gzipped initramfs for k,
// building it unless the cache already has one made from the same
// inputs (its name carries a hash of the scripts, busybox and modules).
func PrepareInitramfs(ctx context.Context, k *Kernel, log io.Writer) (string, error) {
	files, err := initramfsFiles(ctx, k)
	if err != nil {
		return "", fmt.Errorf("prepare initramfs: %w", err)
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s %o %d\n", f.name, f.perm, len(f.data))
		h.Write(f.data)
	}
	name := filepath.Join(k.Dir, "initramfs-"+hex.EncodeToString(h.Sum(nil))[:16]+".cpio.gz")
	if _, err := os.Stat(name); err == nil {
		return name, nil
	}
	logf(log, "building %s", name)
	var buf bytes.Buffer
	if err := writeInitramfs(&buf, files); err != nil {
		return "", fmt.Errorf("prepare initramfs: %w", err)
	}
	if err := writeFileAtomic(name, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("prepare initramfs: %w", err)
	}
	return name, nil
}

// initramfsFiles collects busybox, both stage scripts and the modules,
// numbered so that the shell's glob loads them in dependency order.
func initramfsFiles(ctx context.Context, k *Kernel) ([]initramfsFile, error) {
	bb, err := readStaticBusybox(Busybox)
	if err != nil {
		return nil, err
	}
	files := []initramfsFile{
		{"bin/busybox", 0o755, bb},
		{"init", 0o755, []byte(stage1)},
		{"init2", 0o644, []byte(stage2)},
	}
	mods, err := moduleFiles(ctx, k)
	if err != nil {
		return nil, err
	}
	for i, m := range mods {
		base, data, err := readModule(m)
		if err != nil {
			return nil, err
		}
		files = append(files, initramfsFile{fmt.Sprintf("modules/%02d-%s", i, base), 0o644, data})
	}
	return files, nil
}

// readStaticBusybox reads busybox and makes sure that it is statically
// linked: the initramfs has no C library.
func readStaticBusybox(name string) ([]byte, error) {
	f, err := elf.Open(name)
	if err != nil {
		return nil, fmt.Errorf("busybox %s (install busybox-static): %w", name, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("busybox %s: dynamically linked (install busybox-static)", name)
		}
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read busybox: %w", err)
	}
	return data, nil
}

// writeInitramfs writes the directories, /dev/console and files as a
// gzipped newc cpio archive.
func writeInitramfs(w io.Writer, files []initramfsFile) error {
	zw := gzip.NewWriter(w)
	cw := newCPIOWriter(zw)
	for _, d := range []string{"bin", "dev", "proc", "sys", "lower", "out", "rw", "newroot", "modules"} {
		if err := cw.Dir(d, 0o755); err != nil {
			return err
		}
	}
	// The kernel opens /dev/console for init before init runs.
	if err := cw.CharDev("dev/console", 0o600, 5, 1); err != nil {
		return err
	}
	for _, f := range files {
		if err := cw.File(f.name, f.perm, f.data); err != nil {
			return err
		}
	}
	if err := cw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip initramfs: %w", err)
	}
	return nil
}
