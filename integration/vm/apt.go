package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// metaPackage is the Debian package that depends on the current kernel.
const metaPackage = "linux-image-amd64"

// aptLists is apt's package list directory; its modification time
// changes whenever apt-get update brings new lists.
const aptLists = "/var/lib/apt/lists"

// errNoKernelDep means apt-cache named no linux-image dependency.
var errNoKernelDep = errors.New("no linux-image dependency")

// parseAptDepends returns the kernel package that the output of
// "apt-cache depends linux-image-amd64" names, such as
// linux-image-6.1.0-48-amd64. It skips virtual packages (in angle
// brackets) and takes the first real one.
func parseAptDepends(out string) (string, error) {
	for _, line := range strings.Split(out, "\n") {
		dep, ok := strings.CutPrefix(strings.TrimLeft(line, " \t|"), "Depends:")
		if !ok {
			continue
		}
		dep = strings.TrimSpace(dep)
		if strings.HasPrefix(dep, "linux-image-") && !strings.ContainsAny(dep, "<> ") {
			return dep, nil
		}
	}
	return "", fmt.Errorf("parse apt-cache depends %s: %w", metaPackage, errNoKernelDep)
}

// kernelVersion returns the uname -r string of a kernel package.
func kernelVersion(pkg string) string {
	return strings.TrimPrefix(pkg, "linux-image-")
}

// resolveKernelPackage asks apt which package linux-image-amd64 depends
// on. Debian replaces old ABI versions, so the name is looked up at run
// time; the package lists are refreshed only when they cannot answer.
func resolveKernelPackage(ctx context.Context, log io.Writer) (string, error) {
	out, err := command(ctx, "", "apt-cache", "depends", metaPackage)
	if err == nil {
		var pkg string
		if pkg, err = parseAptDepends(out); err == nil {
			return pkg, nil
		}
	}
	logf(log, "apt-cache cannot resolve %s (%v): running apt-get update", metaPackage, err)
	_, err = command(ctx, "", "apt-get", "update")
	if err == nil {
		out, err = command(ctx, "", "apt-cache", "depends", metaPackage)
	}
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", metaPackage, err)
	}
	return parseAptDepends(out)
}

// resolveCached is resolveKernelPackage, remembered in cacheDir as long
// as apt's lists do not change: apt-cache takes most of a second.
func resolveCached(ctx context.Context, cacheDir string, log io.Writer) (string, error) {
	st, err := os.Stat(aptLists)
	if err != nil {
		return resolveKernelPackage(ctx, log)
	}
	memo := filepath.Join(cacheDir, "resolved")
	key := fmt.Sprintf("%s %d ", aptLists, st.ModTime().UnixNano())
	if b, err := os.ReadFile(memo); err == nil {
		if pkg, ok := strings.CutPrefix(strings.TrimSpace(string(b)), key); ok && pkg != "" {
			return pkg, nil
		}
	}
	pkg, err := resolveKernelPackage(ctx, log)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create cache %s: %w", cacheDir, err)
	}
	return pkg, writeFileAtomic(memo, []byte(key+pkg+"\n"), 0o644)
}

// downloadPackage fetches pkg's .deb into dir with apt-get download and
// returns its path. When the lists are stale (the mirror no longer has
// that version) it updates them and tries once more.
func downloadPackage(ctx context.Context, pkg, dir string, log io.Writer) (string, error) {
	_, err := command(ctx, dir, "apt-get", "download", pkg)
	if err != nil {
		logf(log, "download %s failed (%v): running apt-get update", pkg, err)
		if _, uerr := command(ctx, "", "apt-get", "update"); uerr != nil {
			return "", fmt.Errorf("download %s: %w", pkg, errors.Join(err, uerr))
		}
		if _, err = command(ctx, dir, "apt-get", "download", pkg); err != nil {
			return "", fmt.Errorf("download %s: %w", pkg, err)
		}
	}
	debs, err := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if err != nil || len(debs) != 1 {
		return "", fmt.Errorf("download %s: expected one .deb in %s, found %d", pkg, dir, len(debs))
	}
	return debs[0], nil
}
