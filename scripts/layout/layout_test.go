// Package layout checks the import rules of README.md's layout table
// against the tree: every package of the module has a row, every row
// names packages that exist, and no package imports (directly or through
// others, in its code or its tests) what its row says it must never
// import. `make lint` runs it; a violation prints the import chain.
package layout

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/lvsd/lvsd"

// rule is one row of the layout table.
type rule struct {
	line   int
	path   string   // module-relative; "x/..." covers x and below
	forbid []string // module-relative ("vrrp", "director/..."), std ("net/http") or external paths
}

// covers reports whether the row's path names pkg (module-relative).
func covers(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// specificity orders rows so that the longest path wins.
func specificity(pattern string) int {
	n := len(strings.TrimSuffix(pattern, "/..."))
	if !strings.HasSuffix(pattern, "/...") {
		n++ // an exact row beats a tree row of the same base
	}
	return n
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// readTable parses the "## Layout" table of README.md: | `path` | owns |
// never imports |, the last column a list of `code` spans.
func readTable(readme string) ([]rule, error) {
	f, err := os.Open(readme)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rules []rule
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Layout"
			continue
		case !in || !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|--") || strings.HasPrefix(line, "| package"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			return nil, fmt.Errorf("README.md:%d: layout row needs 3 cells (package, owns, never imports), has %d", n, len(cells))
		}
		m := codeSpan.FindStringSubmatch(cells[0])
		if m == nil {
			return nil, fmt.Errorf("README.md:%d: layout row without a `package`", n)
		}
		r := rule{line: n, path: m[1]}
		for _, f := range codeSpan.FindAllStringSubmatch(cells[2], -1) {
			r.forbid = append(r.forbid, f[1])
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("%s: no ## Layout table", readme)
	}
	return rules, sc.Err()
}

// pkg is what go list says of one package.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Module       *struct{ Path string }
}

// goList runs go list -json over the whole module with the given build
// tags and returns every package it names (the module's and their deps).
func goList(t *testing.T, root string, tags string, deps bool) map[string]pkg {
	t.Helper()
	args := []string{"list", "-e", "-json", "-tags", tags}
	if deps {
		args = append(args, "-deps")
	}
	cmd := exec.Command("go", append(args, "./...")...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	all := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		all[p.ImportPath] = p
	}
	return all
}

// rel returns the module-relative path of a module package, or "".
func rel(importPath string) string {
	if importPath == module {
		return "."
	}
	r, ok := strings.CutPrefix(importPath, module+"/")
	if !ok {
		return ""
	}
	return r
}

// forbidden reports whether importPath is named by a never-imports token.
func forbidden(token, importPath string) bool {
	first := strings.SplitN(token, "/", 2)[0]
	if !strings.Contains(first, ".") {
		// Module-relative when it names a package of the module, else std.
		if r := rel(importPath); r != "" {
			return covers(token, r)
		}
		if isModuleToken(token) {
			return false
		}
	}
	return covers(token, importPath)
}

// moduleDirs are the top-level directories of the module, set in Test.
var moduleDirs []string

func isModuleToken(token string) bool {
	return slices.Contains(moduleDirs, strings.SplitN(token, "/", 2)[0])
}

// chain finds a path of imports from roots to a package token forbids,
// breadth first over graph; nil when there is none.
func chain(graph map[string]pkg, roots []string, token string) []string {
	prev := map[string]string{}
	queue := []string{}
	for _, r := range roots {
		if _, seen := prev[r]; !seen {
			prev[r] = ""
			queue = append(queue, r)
		}
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if forbidden(token, cur) {
			var path []string
			for p := cur; p != ""; p = prev[p] {
				path = append(path, p)
			}
			slices.Reverse(path)
			return path
		}
		for _, next := range graph[cur].Imports {
			if _, seen := prev[next]; !seen {
				prev[next] = cur
				queue = append(queue, next)
			}
		}
	}
	return nil
}

func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := readTable(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	moduleDirs = nil
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			moduleDirs = append(moduleDirs, e.Name())
		}
	}
	slices.SortFunc(rules, func(a, b rule) int { return specificity(b.path) - specificity(a.path) })
	used := map[string]bool{}
	reported := map[string]bool{}
	errorf := func(format string, args ...any) { // once, whichever tag set found it
		if msg := fmt.Sprintf(format, args...); !reported[msg] {
			reported[msg] = true
			t.Error(msg)
		}
	}
	// Both build-tag sets the tests use: host-kernel and VM.
	for _, tags := range []string{"integration", "integration,ipvs"} {
		graph := goList(t, root, tags, true)
		mine := goList(t, root, tags, false)
		for path, p := range mine {
			r := rel(path)
			i := slices.IndexFunc(rules, func(ru rule) bool { return covers(ru.path, r) })
			if i < 0 {
				errorf("package %s has no row in README.md's layout table", r)
				continue
			}
			ru := rules[i]
			used[ru.path] = true
			code := []string{path}
			tests := append(slices.Clone(p.TestImports), p.XTestImports...)
			for _, token := range ru.forbid {
				if c := chain(graph, code, token); c != nil {
					errorf("README.md:%d: %s must never import %s, but: %s", ru.line, r, token, strings.Join(c, " → "))
					continue
				}
				if c := chain(graph, tests, token); c != nil {
					errorf("README.md:%d: %s must never import %s, but its tests do: %s → %s", ru.line, r, token, path+"_test", strings.Join(c, " → "))
				}
			}
			// Nothing outside integration imports it.
			if !covers("integration/...", r) {
				for _, token := range []string{"integration/..."} {
					if c := chain(graph, append(code, tests...), token); c != nil {
						errorf("%s imports %s (only integration's own tests and tools may): %s", r, token, strings.Join(c, " → "))
					}
				}
			}
		}
	}
	for _, ru := range rules {
		if !used[ru.path] {
			t.Errorf("README.md:%d: layout row %s names no package in the tree", ru.line, ru.path)
		}
	}
}

// The checker must catch what it is for: a forbidden import two hops
// away is found, with its chain, and an allowed one is not.
func TestChain(t *testing.T) {
	moduleDirs = []string{"vrrp", "director", "healthcheck"}
	graph := map[string]pkg{
		module + "/healthcheck":     {Imports: []string{"fmt", module + "/healthcheck/sub"}},
		module + "/healthcheck/sub": {Imports: []string{module + "/director/config"}},
		module + "/director/config": {Imports: []string{"net/http"}},
	}
	got := chain(graph, []string{module + "/healthcheck"}, "director/...")
	want := []string{module + "/healthcheck", module + "/healthcheck/sub", module + "/director/config"}
	if !slices.Equal(got, want) {
		t.Errorf("chain = %v, want %v", got, want)
	}
	if c := chain(graph, []string{module + "/healthcheck"}, "vrrp"); c != nil {
		t.Errorf("vrrp found in %v", c)
	}
	if c := chain(graph, []string{module + "/healthcheck"}, "net/http"); len(c) != 4 {
		t.Errorf("std net/http chain = %v", c)
	}
	if c := chain(graph, []string{module + "/healthcheck"}, "director"); c != nil {
		t.Errorf("exact director matched a subpackage: %v", c)
	}
}
