package vm

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv(EnvCache, "/var/cache/x")
	if got, err := DefaultCacheDir(); err != nil || got != "/var/cache/x" {
		t.Errorf("with %s: %q, %v", EnvCache, got, err)
	}
	t.Setenv(EnvCache, "")
	t.Setenv("HOME", "/home/u")
	if got, err := DefaultCacheDir(); err != nil || got != "/home/u/.cache/lvsd-vm" {
		t.Errorf("default: %q, %v", got, err)
	}
}

func TestCompleteMarker(t *testing.T) {
	dir := t.TempDir()
	if isComplete(dir) {
		t.Fatal("empty dir is complete")
	}
	if err := markComplete(dir, "linux-image-x"); err != nil {
		t.Fatal(err)
	}
	if !isComplete(dir) {
		t.Fatal("marked dir is not complete")
	}
}

func TestPruneKernels(t *testing.T) {
	cache := t.TempDir()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	old, recent := now.Add(-staleAfter-time.Hour), now.Add(-time.Hour)
	mk := func(v string, complete bool, mtime time.Time) string {
		dir := filepath.Join(cache, "kernel", v)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if complete {
			markComplete(dir, v)
			touchKernel(dir, mtime)
		}
		os.Chtimes(dir, mtime, mtime)
		return dir
	}
	keep := mk("6.1.0-56-amd64", true, old) // in use now, however old
	stale := mk("6.1.0-48-amd64", true, old)
	fresh := mk("6.1.0-50-amd64", true, recent)
	half := mk("6.1.0-51-amd64", false, old)
	busy := mk("6.1.0-52-amd64", false, recent) // another run preparing it
	if err := pruneKernels(cache, "6.1.0-56-amd64", now, nil); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]bool{keep: true, stale: false, fresh: true, half: false, busy: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
}
