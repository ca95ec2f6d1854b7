package migrate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// MainFile and ServicesDir are where Render puts the files, relative to
// the output directory.
const (
	MainFile    = "lvsd.yaml"
	ServicesDir = "services.d"
)

// Render returns the files of r by path relative to the output directory:
// the main file and one file per service. from names the source (for the
// header); every block carries a comment naming its source line, and the
// main file's header lists the findings.
func Render(r Result, from string) (map[string][]byte, error) {
	files := map[string][]byte{}
	r.Main.ServicesDir = ServicesDir
	main, err := renderMain(r, from)
	if err != nil {
		return nil, err
	}
	files[MainFile] = main
	used := map[string]bool{}
	for _, s := range r.Services {
		name := fileName(s.Name, used)
		if s.Disabled {
			name += ".disabled"
		}
		b, err := renderService(s, from)
		if err != nil {
			return nil, fmt.Errorf("render service %s: %w", s.Name, err)
		}
		files[filepath.Join(ServicesDir, name)] = b
	}
	return files, nil
}

// Write renders r and writes it below dir, creating the directories.
func Write(dir string, r Result, from string) ([]string, error) {
	files, err := Render(r, from)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, ServicesDir), 0o755); err != nil {
		return nil, err
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return nil, err
		}
	}
	return names, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName makes a service file name from a service name, unique in used.
func fileName(name string, used map[string]bool) string {
	base := strings.Trim(unsafeName.ReplaceAllString(name, "-"), "-.")
	if base == "" {
		base = "service"
	}
	n := base + ".yaml"
	for i := 2; used[n]; i++ {
		n = fmt.Sprintf("%s-%d.yaml", base, i)
	}
	used[n] = true
	return n
}

func renderMain(r Result, from string) ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(r.Main); err != nil {
		return nil, err
	}
	head := []string{"Imported by lvsd import from " + from + "."}
	head = append(head, "Each block names the source line it was translated from.")
	if len(r.Findings) > 0 {
		head = append(head, "", "Not taken over as written (see lvsd import's output):")
		for _, f := range r.Findings.Sorted() {
			head = append(head, "  "+f.String())
		}
	}
	if len(r.Peer) > 0 {
		head = append(head, "", "While the peer still runs the old software, both must agree on:")
		for _, p := range r.Peer {
			head = append(head, "  "+p)
		}
	}
	root.HeadComment = strings.Join(head, "\n")
	if v := value(&root, "vrrp"); v != nil {
		for i, n := range items(value(v, "instances")) {
			n.HeadComment = "from " + r.Main.VRRP.Instances[i].Source
		}
		for i, n := range items(value(v, "groups")) {
			n.HeadComment = "from " + r.Main.VRRP.Groups[i].Source
		}
	}
	if r.Main.Sync != nil {
		setKeyComment(&root, "sync", "from "+r.Main.Sync.Source)
	}
	return encode(&root)
}

func renderService(s Service, from string) ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(s); err != nil {
		return nil, err
	}
	head := "Imported by lvsd import from " + from + ".\nfrom " + s.Source
	if s.Disabled {
		head += "\nDisabled: lvsd does not read this file (see the findings in ../" + MainFile + ")."
	}
	root.HeadComment = head
	for i, n := range items(value(&root, "reals")) {
		n.HeadComment = "from " + s.Reals[i].Source
	}
	return encode(&root)
}

func encode(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// value returns the value node of key in mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setKeyComment(m *yaml.Node, key, comment string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i].HeadComment = comment
		}
	}
}

func items(seq *yaml.Node) []*yaml.Node {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	return seq.Content
}
