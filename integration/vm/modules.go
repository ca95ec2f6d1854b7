package vm

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// bootModules are the modules the initramfs loads to mount the host's
// root over virtio 9p with an overlay on top (see KERNEL.md). modprobe
// adds their dependencies and puts them in load order.
var bootModules = []string{
	"virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
	"virtio_pci", "9pnet", "9pnet_virtio", "netfs", "fscache", "9p", "overlay",
}

// parseShowDepends returns the module files in the output of
// "modprobe --show-depends", in order. Lines for built-in modules name
// no file and are skipped; module parameters after the path are dropped.
func parseShowDepends(out string) []string {
	var files []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "insmod" {
			files = append(files, f[1])
		}
	}
	return files
}

// appendUnique appends the items of add that are not yet in list.
func appendUnique(list []string, add ...string) []string {
	for _, a := range add {
		seen := false
		for _, l := range list {
			seen = seen || l == a
		}
		if !seen {
			list = append(list, a)
		}
	}
	return list
}

// moduleFiles returns the files of bootModules and their dependencies
// in k, in an order in which insmod can load them.
func moduleFiles(ctx context.Context, k *Kernel) ([]string, error) {
	var files []string
	for _, m := range bootModules {
		out, err := command(ctx, "", "modprobe", "-d", k.Root, "-S", k.Version, "--show-depends", m)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", m, err)
		}
		files = appendUnique(files, parseShowDepends(out)...)
	}
	return files, nil
}

// readModule returns the content of a module file as insmod can take
// it: compressed modules (.ko.xz, .ko.gz) are decompressed here, so the
// initramfs does not rely on busybox's or the kernel's decompressors.
func readModule(path string) (name string, data []byte, err error) {
	data, err = os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("read module: %w", err)
	}
	base := filepath.Base(path)
	switch {
	case strings.HasSuffix(base, ".ko"):
	case strings.HasSuffix(base, ".ko.xz"):
		data, err = decodeXZ(data)
	case strings.HasSuffix(base, ".ko.gz"):
		data, err = gunzip(data)
	default:
		err = fmt.Errorf("unsupported compression")
	}
	if err != nil {
		return "", nil, fmt.Errorf("module %s: %w", path, err)
	}
	return base[:strings.Index(base, ".ko")] + ".ko", data, nil
}

// gunzip decompresses a gzip file held in memory.
func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	return out, nil
}
