package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzMain is the main file beside a fuzzed service file: one instance,
// so that the checks across files run too.
const fuzzMain = "node: fuzz\nvrrp:\n  instances:\n    - {name: front, interface: lo, vrid: 10, virtual_ips: [192.0.2.10/24, 192.0.2.20/24]}\n" +
	"    - {name: front6, interface: lo, vrid: 10, virtual_ips: [\"2001:db8::10\"]}\n"

// fuzzSeeds adds every example and broken-case file matching pattern
// (relative to this package), then a few inputs no file has.
func fuzzSeeds(f *testing.F, patterns ...string) {
	for _, pat := range patterns {
		files, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, s := range []string{"", "\xff\xfe", "a: [\n", "a:\n\t- b\n", "- &a [*a]\n", "k: !!binary x\n", "<<: *x\n", "a: 1\n---\n...\n"} {
		f.Add([]byte(s))
	}
}

// checkLocated asserts what the fuzz targets promise: a load returns a
// config or errors, never both, and every error names a file, and a line
// within the file (for a file with any text), and says something in an
// operator's terms.
func checkLocated(t *testing.T, rep Report, file string, data []byte) {
	t.Helper()
	if (rep.Config == nil) == (len(rep.Errors) == 0) {
		t.Fatalf("config %v with %d errors", rep.Config != nil, len(rep.Errors))
	}
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, e := range append(rep.Errors, rep.Warnings...) {
		switch {
		case e.File == "" || e.Msg == "" || e.Column < 0:
			t.Errorf("unlocated or empty: %#v", e)
		case strings.Contains(e.Msg, "unmarshal") || strings.Contains(e.Msg, "config.raw"):
			// The schema check should have refused the value first, in
			// an operator's terms.
			t.Errorf("the decoder's own words: %v", e)
		case e.File != file:
		case len(data) > 0 && (e.Line < 1 || e.Line > lines):
			t.Errorf("line %d outside 1-%d: %v", e.Line, lines, e)
		}
	}
}

// fuzzDir writes a configuration into a directory of its own, reused by
// every input of one fuzzing process.
func fuzzDir(f *testing.F) (dir, main, svc string) {
	dir = f.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "services.d"), 0o755); err != nil {
		f.Fatal(err)
	}
	return dir, filepath.Join(dir, "lvsd.yaml"), filepath.Join(dir, "services.d", "fuzz.yaml")
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzMainFile loads arbitrary main files beside a valid service file.
func FuzzMainFile(f *testing.F) {
	fuzzSeeds(f, "../../examples/*.yaml", "../../examples/pair/*.yaml", "testdata/broken/*/lvsd.yaml")
	_, main, svc := fuzzDir(f)
	good, err := os.ReadFile("../../examples/services.d/nginx.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		write(t, svc, good)
		write(t, main, data)
		checkLocated(t, Validate(main, Options{Host: fakeHost{}}), main, data)
	})
}

// FuzzServiceFile loads arbitrary service files beside a valid main file.
func FuzzServiceFile(f *testing.F) {
	fuzzSeeds(f, "../../examples/services.d/*.yaml", "../../examples/pair/services.d/*.yaml", "testdata/broken/*/services.d/*.yaml")
	_, main, svc := fuzzDir(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		write(t, main, []byte(fuzzMain))
		write(t, svc, data)
		checkLocated(t, Validate(main, Options{Host: fakeHost{}}), svc, data)
	})
}

// TestFuzzFindings replays what the fuzz targets found, as rows.
func TestFuzzFindings(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		main       bool // the fuzzed file is the main file, else a service file
		want       string
	}{
		// yaml.v3 put the null document of a lone "---" on line 2 of a
		// one-line file.
		{"lone document marker", "---", false, "fuzz.yaml:1: the file holds no settings"},
		{"lone document marker in the main file", "---\n", true, "lvsd.yaml:1: the file holds no settings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "services.d"), 0o755); err != nil {
				t.Fatal(err)
			}
			main, svc := filepath.Join(dir, "lvsd.yaml"), filepath.Join(dir, "services.d", "fuzz.yaml")
			file, other := svc, main
			otherText := []byte(fuzzMain)
			if tc.main {
				file, other, otherText = main, svc, []byte("name: web\nvirtual: 192.0.2.10:80\nforward: nat\n")
			}
			write(t, file, []byte(tc.text))
			write(t, other, otherText)
			rep := Validate(main, Options{Host: fakeHost{}})
			checkLocated(t, rep, file, []byte(tc.text))
			got := strings.ReplaceAll(strings.ReplaceAll(rep.Errors.Error(), dir+"/services.d/", ""), dir+"/", "")
			if got != tc.want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}
