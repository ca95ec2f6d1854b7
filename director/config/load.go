package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
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
	if opts.Host == nil {
		opts.Host = realHost{}
	}
	var errs Errors
	cfg, mainOK := loadMain(path, opts.Host, &errs)
	if cfg != nil {
		cfg.Services = loadServices(cfg, &errs)
		if mainOK {
			checkAcross(cfg, &errs)
		}
	}
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	return cfg, nil
}

// parsed is one file after the YAML stage: its tree, positions, and reporter.
type parsed struct {
	root *yaml.Node
	rep  reporter
}

// decodeFile reads path and decodes it strictly into out. It reports
// syntax, type and unknown-key errors and returns true only if there were
// none: values left zero by a failed decode would otherwise set off a
// cascade of misleading errors in the semantic checks.
func decodeFile(path string, out any, errs *Errors) (parsed, bool) {
	rep := reporter{file: path, errs: errs}
	data, err := os.ReadFile(path)
	if err != nil {
		rep.atLine(0, "", "cannot read: "+unwrapPathErr(err))
		return parsed{rep: rep}, false
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		line, msg := syntaxError(err)
		rep.atLine(line, "", msg)
		return parsed{rep: rep}, false
	}
	rep.pos = indexPositions(&root)
	p := parsed{root: docRoot(&root), rep: rep}
	if p.root == nil {
		rep.atLine(0, "", "file is empty")
		return p, false
	}
	if p.root.Kind != yaml.MappingNode {
		rep.atLine(p.root.Line, "", "expected a mapping of keys at the top level")
		return p, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err = dec.Decode(out)
	if err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			line, msg := syntaxError(err)
			rep.atLine(line, "", msg)
			return p, false
		}
		for _, s := range te.Errors {
			line, path, msg := translateTypeError(s, rep.pos)
			rep.atLine(line, path, msg)
		}
		return p, false
	}
	return p, true
}

func docRoot(n *yaml.Node) *yaml.Node {
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
// skipping hidden files (editor and package-manager leftovers).
func serviceFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		if ext := filepath.Ext(name); ext == ".yaml" || ext == ".yml" {
			files = append(files, filepath.Join(dir, name))
		}
	}
	sort.Strings(files)
	return files, nil
}

func loadServices(cfg *Config, errs *Errors) []Service {
	files, err := serviceFiles(cfg.ServicesDir)
	if err != nil {
		*errs = append(*errs, &Error{File: cfg.MainFile, Line: cfg.servicesDirLine,
			Path: "services_dir", Msg: "cannot read " + cfg.ServicesDir + ": " + unwrapPathErr(err)})
		return nil
	}
	var out []Service
	for _, f := range files {
		var raw rawService
		p, ok := decodeFile(f, &raw, errs)
		if !ok {
			continue
		}
		if s, ok := resolveService(raw, p); ok {
			out = append(out, s)
		}
	}
	return out
}
