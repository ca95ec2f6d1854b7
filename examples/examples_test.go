// Package examples holds real configurations; this test keeps every one of
// them valid as the configuration format evolves.
package examples

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/director/config"
)

// anyHost has none of the examples' interfaces, so host checks become
// warnings and the examples validate the same on every machine.
type anyHost struct{}

func (anyHost) Hostname() (string, error)                  { return "example-host", nil }
func (anyHost) InterfaceAddrs(string) ([]netip.Addr, bool) { return nil, false }

// mainFiles finds every main file: any .yaml under examples/ that is not
// in a services.d directory.
func mainFiles(t *testing.T) []string {
	var files []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) != "services.d" && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// serviceFiles finds every service file: any .yaml in a services.d
// directory, at any depth (three-hosts keeps one per director).
func serviceFiles(t *testing.T) []string {
	var files []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) == "services.d" && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestExamplesAreValid(t *testing.T) {
	files := mainFiles(t)
	if len(files) == 0 {
		t.Fatal("no example main files found")
	}
	for _, f := range files {
		cfg, err := config.Load(f, config.Options{Host: anyHost{}})
		if err != nil {
			t.Errorf("%s:\n%v", f, err)
			continue
		}
		if len(cfg.Services) == 0 {
			t.Errorf("%s: no services loaded from %s", f, cfg.ServicesDir)
		}
	}
	// Every service file must be reached by some main file.
	loaded := map[string]bool{}
	for _, f := range files {
		if cfg, err := config.Load(f, config.Options{Host: anyHost{}}); err == nil {
			for _, s := range cfg.Services {
				loaded[filepath.Clean(s.File)] = true
			}
		}
	}
	for _, f := range serviceFiles(t) {
		if !loaded[filepath.Clean(f)] {
			t.Errorf("%s is not loaded by any main file", f)
		}
	}
}
