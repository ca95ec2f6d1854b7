package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func validateJSON(t *testing.T, path string) ([]diagnostic, int) {
	t.Helper()
	out, errOut, code := lvsd(t, "validate", "--json", "-c", path)
	var ds []diagnostic
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatalf("stdout is not a JSON list: %v\n%s\nstderr: %s", err, out, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr with --json: %s", errOut)
	}
	return ds, code
}

// TestValidateJSONBroken: for every broken configuration, --json exits 1
// and lists exactly the errors of the case's want file, each with a file,
// a line and a key path where the text form has them.
func TestValidateJSONBroken(t *testing.T) {
	dirs, _ := filepath.Glob("../../director/config/testdata/broken/*")
	if len(dirs) < 20 {
		t.Fatalf("found %d broken cases, want at least 20", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, "want"))
			if err != nil {
				t.Fatal(err)
			}
			ds, code := validateJSON(t, filepath.Join(dir, "lvsd.yaml"))
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			var got []string
			for _, d := range ds {
				if d.Severity != "error" {
					t.Errorf("severity %q in %+v: the broken cases run on a host with their interfaces", d.Severity, d)
				}
				line := strings.TrimPrefix(d.File, dir+"/")
				if d.Line > 0 {
					line += fmt.Sprintf(":%d", d.Line)
				}
				line += ": "
				if d.Key != "" {
					line += d.Key + ": "
				}
				got = append(got, strings.ReplaceAll(line+d.Message, dir+"/", ""))
			}
			if g, w := strings.Join(got, "\n"), strings.TrimSpace(string(want)); g != w {
				t.Errorf("JSON errors:\n%s\nwant:\n%s", g, w)
			}
		})
	}
}

// TestValidateJSONPositions checks the columns, which only the JSON form
// carries: of the value for a refused value, of the key for a checked one,
// of the offending character for a syntax error.
func TestValidateJSONPositions(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "services.d"), 0o755))
	main := filepath.Join(dir, "lvsd.yaml")
	must(t, os.WriteFile(main, []byte("node: n\n"), 0o644))
	svc := "name: web\nvirtual: 192.0.2.10:80\nforward: nat\nreals:\n  - address: 198.51.100.11:8080\n    weight: ten\n  - {address: 198.51.100.12:8080, weight: 70000}\n"
	must(t, os.WriteFile(filepath.Join(dir, "services.d", "web.yaml"), []byte(svc), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "services.d", "tab.yaml"), []byte("name: tab\ncheck:\n  type: tcp\n \tinterval: 1s\n"), 0o644))
	ds, code := validateJSON(t, main)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	want := []diagnostic{
		{File: filepath.Join(dir, "services.d", "tab.yaml"), Line: 4, Column: 2, Message: "YAML syntax: tab used for indentation; indent with spaces", Severity: "error"},
		{File: filepath.Join(dir, "services.d", "web.yaml"), Line: 6, Column: 13, Key: "reals[0].weight", Message: `"ten" is not a whole number`, Severity: "error"},
		{File: filepath.Join(dir, "services.d", "web.yaml"), Line: 7, Column: 35, Key: "reals[1].weight", Message: "70000 out of range 0-65535", Severity: "error"},
	}
	if fmt.Sprint(ds) != fmt.Sprint(want) {
		t.Errorf("got\n%+v\nwant\n%+v", ds, want)
	}
}

// TestValidateJSONWarnings: a valid configuration exits 0, and its
// warnings come out located, with severity "warning".
func TestValidateJSONWarnings(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "services.d"), 0o755))
	main := filepath.Join(dir, "lvsd.yaml")
	cfg := "node: n\nvrrp:\n  instances:\n    - name: front\n      interface: lvsdnone0\n      vrid: 7\n      virtual_ips: [192.0.2.10/24]\n"
	must(t, os.WriteFile(main, []byte(cfg), 0o644))
	ds, code := validateJSON(t, main)
	if code != 0 {
		t.Fatalf("exit %d for a valid configuration: %+v", code, ds)
	}
	want := diagnostic{File: main, Line: 5, Column: 7, Key: "vrrp.instances[0].interface",
		Message: `lvsdnone0 is not on this host: the host checks of instance "front" were skipped`, Severity: "warning"}
	if len(ds) != 1 || ds[0] != want {
		t.Errorf("got %+v, want [%+v]", ds, want)
	}
	// The same file without --json: the summary, with the warning in it.
	out, _, code := lvsd(t, "validate", "-c", main)
	if code != 0 || !strings.Contains(out, "warning: "+main+":5: vrrp.instances[0].interface: lvsdnone0 is not on this host") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestValidateJSONUnreadable: a missing main file is one error without a
// line, and still a JSON list.
func TestValidateJSONUnreadable(t *testing.T) {
	main := filepath.Join(t.TempDir(), "nope.yaml")
	ds, code := validateJSON(t, main)
	want := diagnostic{File: main, Message: "cannot read: no such file or directory", Severity: "error"}
	if code != 1 || len(ds) != 1 || ds[0] != want {
		t.Errorf("exit %d, %+v; want 1, [%+v]", code, ds, want)
	}
}
