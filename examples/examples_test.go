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

// mainFiles finds every main file: lvsd*.yaml anywhere under examples/.
func mainFiles(t *testing.T) []string {
	var files []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "lvsd") && strings.HasSuffix(p, ".yaml") {
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
	services := 0
	for _, f := range files {
		cfg, err := config.Load(f, config.Options{Host: anyHost{}})
		if err != nil {
			t.Errorf("%s:\n%v", f, err)
			continue
		}
		if len(cfg.Services) == 0 {
			t.Errorf("%s: no services loaded from %s", f, cfg.ServicesDir)
		}
		services += len(cfg.Services)
	}
	// Every service file must be reached by some main file.
	all, _ := filepath.Glob("*/services.d/*.yaml")
	top, _ := filepath.Glob("services.d/*.yaml")
	if want := len(all) + len(top); services < want {
		t.Errorf("main files load %d services, but there are %d service files", services, want)
	}
}
