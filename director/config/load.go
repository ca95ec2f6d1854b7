package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options tune Load. The zero value checks against this host.
type Options struct {
	// Host answers questions about this machine (hostname, interface
	// addresses). Nil means the real host; tests pass a fake.
	Host Host
}

// Load reads the main file at path and every service file of its services
// directory, and validates the whole. On any problem it returns a nil
// Config and an Errors listing every problem found, each with file and line.
func Load(path string, opts Options) (*Config, error) {
	rep := Validate(path, opts)
	if len(rep.Errors) > 0 {
		return nil, rep.Errors
	}
	return rep.Config, nil
}

// Report is everything one validation found.
type Report struct {
	Config   *Config // nil when there are errors
	Errors   Errors  // sorted by file, line and column
	Warnings Errors  // checks that could not be made here; also in Config.Warnings
}

// Validate reads and checks the main file at path and every service file,
// as Load does, and returns the errors and the warnings (which a failed
// Load has no Config to carry).
func Validate(path string, opts Options) Report {
	if opts.Host == nil {
		opts.Host = realHost{}
	}
	var errs, warns Errors
	cfg, mainOK := loadMain(path, opts.Host, &errs, &warns)
	if cfg != nil {
		cfg.Services = loadServices(cfg, &errs)
		if mainOK {
			checkAcross(cfg, &errs)
		}
		cfg.Warnings = warns.sorted()
	}
	if len(errs) > 0 {
		return Report{Errors: errs.sorted(), Warnings: warns.sorted()}
	}
	return Report{Config: cfg, Warnings: warns.sorted()}
}

// parsed is one file after the YAML stage: its tree, positions, and
// reporter. root is nil when the file could not be read as a mapping of
// keys; bad lists the values that were refused and dropped from root.
type parsed struct {
	root *yaml.Node
	rep  reporter
	bad  *badPaths
	data []byte // the file as read; nil when it could not be
	// refused is true when the YAML stage dropped values: what was read
	// is not the whole file.
	refused bool
}

// decodeFile reads path and decodes it into out. It reports every
// problem of the YAML stage (encoding, syntax, a second document, unknown
// and repeated keys, values of the wrong kind) and drops the refused
// values, so that out holds what was read exactly and the checks of values
// can still run over the rest of the file.
func decodeFile(path string, out any, errs *Errors) parsed {
	p := parsed{rep: reporter{file: path, errs: errs}, bad: &badPaths{}}
	p.rep.bad = p.bad
	data, err := os.ReadFile(path)
	if err != nil {
		p.rep.atLine(0, "", "cannot read: "+unwrapPathErr(err))
		return p
	}
	p.data = data
	if probs := checkEncoding(data); len(probs) > 0 {
		for _, e := range probs {
			p.rep.atPos(e.line, e.col, "", e.msg)
		}
		return p
	}
	doc, err := parseFirst(data)
	if err != nil {
		line, col, msg := syntaxProblem(data, err)
		p.rep.atPos(line, col, "", msg)
		return p
	}
	checkOneDocument(data, p.rep)
	root := docRoot(doc)
	switch {
	case root == nil || root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		// Empty, comments only, or a lone "---" (whose null value yaml.v3
		// places on a line after the file's last).
		p.rep.atLine(min(1, len(data)), "", "the file holds no settings")
		return p
	case root.Kind != yaml.MappingNode:
		p.rep.atPos(root.Line, root.Column, "", "expected a mapping of keys at the top level, not "+kindName(root))
		return p
	}
	p.rep.pos = indexPositions(root)
	s := schema{rep: p.rep, bad: p.bad, seen: map[seenKey]bool{}, file: reflect.TypeOf(out).Elem()}
	s.mapping("", root, s.file)
	if err := doc.Decode(out); err != nil {
		decodeFailed(err, p.rep, p.bad)
	}
	p.root, p.refused = root, p.bad.any()
	return p
}

// decodeFailed reports what yaml.v3 still refused after the schema check
// (such as an alias expanding beyond its limits).
func decodeFailed(err error, rep reporter, bad *badPaths) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		line, msg := yamlMessage(errors.New(m))
		rep.atLine(max(line, 1), "", msg)
	}
	bad.add("")
}

// checkOneDocument refuses a second YAML document in a file: yaml.v3 reads
// the first only, and the rest would be silently ignored.
func checkOneDocument(data []byte, rep reporter) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first, second yaml.Node
	if dec.Decode(&first) != nil || errors.Is(dec.Decode(&second), io.EOF) {
		return
	}
	line, marker := secondDocument(splitLines(data))
	if marker == "..." {
		rep.atLine(line, "", `"..." ends the YAML document, and what follows it would be ignored: remove it, or move it to a file of its own`)
		return
	}
	rep.atLine(line, "", `"---" starts a second YAML document, which would be ignored: one file holds one document; move it to a file of its own`)
}

// secondDocument finds the marker after which a second document follows:
// the first "---" or "..." at the start of a line after some content.
func secondDocument(lines []string) (int, string) {
	content := false
	for i, l := range lines {
		marker := ""
		for _, m := range []string{"---", "..."} {
			if l == m || strings.HasPrefix(l, m+" ") || strings.HasPrefix(l, m+"\t") {
				marker = m
			}
		}
		switch {
		case marker != "" && content:
			return i + 1, marker
		case marker == "---":
			content = true // a document starts here, even an empty one
		case strings.TrimSpace(l) != "" && !strings.HasPrefix(strings.TrimSpace(l), "#") && !strings.HasPrefix(l, "%"):
			content = true
		}
	}
	return max(len(lines), 1), "---"
}

func docRoot(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}

func unwrapPathErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// serviceFiles lists the service files of dir: *.yaml and *.yml, sorted,
// skipping hidden files (editor and package-manager leftovers). It also
// returns the names that look meant as service files but are not read
// (WEB.YAML), so that none is skipped without a word.
func serviceFiles(dir string) (files, unread []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		switch ext := filepath.Ext(name); {
		case ext == ".yaml" || ext == ".yml":
			files = append(files, filepath.Join(dir, name))
		case strings.EqualFold(ext, ".yaml") || strings.EqualFold(ext, ".yml"):
			unread = append(unread, name)
		}
	}
	sort.Strings(files)
	sort.Strings(unread)
	return files, unread, nil
}

func loadServices(cfg *Config, errs *Errors) []Service {
	files, unread, err := serviceFiles(cfg.ServicesDir)
	if err != nil && cfg.guessedDir {
		return nil
	}
	for _, name := range unread {
		cfg.mainRep.warn("services_dir", "%s is not read: only names ending in .yaml or .yml, in lower case, are", name)
	}
	if err != nil {
		cfg.mainRep.at("services_dir", "cannot read %s: %s", cfg.ServicesDir, unwrapPathErr(err))
		return nil
	}
	var out []Service // nil for none; else room for every file, not twice that
	if len(files) > 0 {
		out = make([]Service, 0, len(files))
	}
	checks := map[string]*Check{}
	for _, f := range files {
		before := len(*errs)
		var raw rawService
		p := decodeFile(f, &raw, errs)
		if p.root == nil {
			continue
		}
		s := resolveService(raw, p)
		// Only a service without errors takes part in the checks across
		// files: a broken one would only set off confusing duplicates.
		if len(*errs) == before {
			internChecks(&s, checks)
			out = append(out, s)
		}
	}
	return out
}

// internChecks points s's checks at the equal ones of the services
// before it, which checks holds by their rendering: 10,000 service files
// that say "check: {type: tcp, interval: 1s}" then share one Check (and
// the health runner one converted Spec), not 10,000 copies. A loaded
// Check is never modified, so sharing one is safe.
func internChecks(s *Service, checks map[string]*Check) {
	intern := func(c *Check) *Check {
		k := fmt.Sprintf("%#v", *c)
		if same := checks[k]; same != nil {
			return same
		}
		checks[k] = c
		return c
	}
	own := s.Check
	s.Check = intern(own)
	for i := range s.Reals {
		if r := &s.Reals[i]; r.Check == own {
			r.Check = s.Check // still the service's own, as Real.Check says
		} else {
			r.Check = intern(r.Check)
		}
	}
}
