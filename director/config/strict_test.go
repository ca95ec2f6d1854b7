package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestExplicitDefaults: writing a key with its default value gives the
// same configuration as leaving it out. Now that zero is no longer "not
// set", this guards the other direction: a key present is not taken for
// something else.
func TestExplicitDefaults(t *testing.T) {
	const svc = "name: web\nvirtual: 192.0.2.10:80\nforward: nat\n"
	implicit := writeConfig(t, "node: n\nvrrp:\n  instances:\n    - {name: a, interface: lo, vrid: 1, virtual_ips: [192.0.2.10/24]}\n",
		map[string]string{"web.yaml": svc + "persistence: {}\nreals:\n  - address: 198.51.100.11:8080\n"})
	explicit := writeConfig(t, `node: n
log: {level: info, format: text}
http: {listen: 127.0.0.1:9180}
services_dir: services.d
vrrp:
  instances:
    - name: a
      interface: lo
      vrid: 1
      priority: 100
      version: 3
      advert_interval: 1s
      preempt: true
      preempt_delay: 0s
      preempt_needs_realservers: true
      checksum: pseudo-header
      virtual_mac: false
      virtual_ips: [192.0.2.10/24]
      announce: {repeat: 3, interval: 100ms, refresh: 0s}
      handover: {on_stop: true, timeout: 3s}
notify: {timeout: 5s}
director: {reconcile_interval: 30s, on_stop: keep, load_module: false, set_sysctls: false}
`, map[string]string{"web.yaml": svc + `protocol: tcp
scheduler: wlc
quiescent: false
persistence: {timeout: 300s, netmask: 32}
check: {type: tcp, interval: 2s, timeout: 1s, rise: 2, fall: 2, initial: up}
reals:
  - {address: 198.51.100.11:8080, weight: 1, upper_threshold: 0, lower_threshold: 0, forward: nat}
`})
	a, err := Load(implicit, Options{Host: fakeHost{}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(explicit, Options{Host: fakeHost{}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Instances, b.Instances) || !reflect.DeepEqual(a.Notify, b.Notify) || a.Director != b.Director {
		t.Errorf("main file:\n%+v\n%+v", a.Instances, b.Instances)
	}
	sa, sb := a.Services[0], b.Services[0]
	if !reflect.DeepEqual(sa.Reals, sb.Reals) || !reflect.DeepEqual(sa.Check, sb.Check) || *sa.Persistence != *sb.Persistence ||
		sa.Scheduler != sb.Scheduler || sa.Protocol != sb.Protocol {
		t.Errorf("service:\n%+v\n%+v", sa, sb)
	}
}

// TestAnchorsAndMerges: anchors, aliases and << merges are read as YAML
// means them, keys merged in are checked like keys written in place, and a
// key written beside the merge wins.
func TestAnchorsAndMerges(t *testing.T) {
	path := writeConfig(t, "node: n\n", map[string]string{"web.yaml": `name: web
virtual: 192.0.2.10:80
forward: nat
check: &chk {type: http, path: /health, interval: 3s}
reals:
  - &base {address: 198.51.100.11:8080, weight: 5, check: *chk}
  - <<: *base
    address: 198.51.100.12:8080
`})
	cfg, err := Load(path, Options{Host: fakeHost{}})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Services[0].Reals
	if len(r) != 2 || r[1].Weight != 5 || r[1].Addr.String() != "198.51.100.12:8080" || r[1].Check.Path != "/health" || r[1].Check.Interval != 3*time.Second {
		t.Errorf("reals: %+v", r)
	}
	path = writeConfig(t, "node: n\n", map[string]string{"web.yaml": "name: web\nvirtual: 192.0.2.10:80\nforward: nat\nbase: &b {weight: 2}\nreals:\n  - <<: *b\n    address: 198.51.100.11:8080\n    wieght: 3\n"})
	_, err = Load(path, Options{Host: fakeHost{}})
	if got := errText(err, path); got != `web.yaml:4: base: unknown key "base" (did you mean "name"?)`+"\n"+`web.yaml:8: reals[0].wieght: unknown key "wieght" (did you mean "weight"?)` {
		t.Errorf("errors:\n%s", got)
	}
}

// errText is err's text with the configuration's directory left out.
func errText(err error, mainPath string) string {
	if err == nil {
		return ""
	}
	dir := mainPath[:strings.LastIndex(mainPath, "/")+1]
	return strings.ReplaceAll(err.Error(), dir+"services.d/", "")
}

// TestSyntaxPlacement puts YAML syntax errors where an operator fixes
// them, with the column, in cases the broken configurations do not show.
func TestSyntaxPlacement(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line, col  int
		msg        string
	}{
		{"crlf", "name: web\r\nreals:\r\n  - address: a\r\n   - address: b\r\n", 4, 4, "bad indentation: column 4 is between"},
		{"flow before the open one", "a: [1,\n  2]\nb: [3\nc: 4\n", 3, 4, "the [ opened here is not closed"},
		{"quote closed later", "a: \"x\n  y\"\nb: \"z\nc: 1\n", 3, 4, `the " opened here is not closed`},
		{"key after a list at its column", "reals:\n- a\n- b\nname: x\n  bad: 1\n", 5, 3, "bad indentation: deeper than line 4"},
		{"tab after indentation spaces", "check:\n  type: tcp\n \tinterval: 1s\n", 3, 2, "tab used for indentation"},
		{"reserved character", "a: 1\nb: `x`\n", 2, 4, "a value cannot start with `"},
		{"colon in a value", "a: 1\nb: c: d\n", 2, 5, `the value contains ": "`},
		{"alias before its anchor", "a: 1\nb: *x\nc: &x 2\n", 2, 0, "an alias (*name) must follow its anchor (&name)"},
		{"tab in a block scalar", "send: |\n  a\n\tb\n", 3, 0, "tab used for indentation"},
		{"list item among keys", "a: 1\n- b\n", 2, 1, "a list item among the keys of line 1"},
		{"no space after the colon, seen on the next line", "name:web\n\nforward: nat\n", 1, 5, `no space after ":": write "name: web"`},
		{"no space after the colon", "name: web\nforward:nat\nvirtual: x\n", 2, 8, `write "forward: nat"`},
		{"missing colon", "name: web\nreals\n  - a\n", 2, 1, `"reals" is neither "key: value" nor a list item`},
		{"backslash in double quotes", "send: \"C:\\q\"\n", 1, 0, `write \\ for one, or use 'single quotes'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFirst([]byte(tc.text))
			if err == nil {
				t.Fatal("parsed")
			}
			line, col, msg := syntaxProblem([]byte(tc.text), err)
			if line != tc.line || col != tc.col || !strings.Contains(msg, tc.msg) {
				t.Errorf("%d:%d %s, want %d:%d ...%s...", line, col, msg, tc.line, tc.col, tc.msg)
			}
		})
	}
}

// TestUnreadServiceFile: a file that looks meant as a service file but is
// not read (upper-case extension) is named in a warning at services_dir.
func TestUnreadServiceFile(t *testing.T) {
	path := writeConfig(t, "node: n\nservices_dir: services.d\n", map[string]string{
		"WEB.YAML": "name: web\n", "notes.txt": "not yaml", "web.yaml.bak": "old",
	})
	rep := Validate(path, Options{Host: fakeHost{}})
	if len(rep.Errors) != 0 || len(rep.Warnings) != 1 {
		t.Fatalf("errors %v, warnings %v", rep.Errors, rep.Warnings)
	}
	w := rep.Warnings[0]
	if w.File != path || w.Line != 2 || w.Path != "services_dir" || w.Msg != "WEB.YAML is not read: only names ending in .yaml or .yml, in lower case, are" {
		t.Errorf("warning %#v", w)
	}
	if len(rep.Config.Warnings) != 1 {
		t.Errorf("config warnings %v", rep.Config.Warnings)
	}
}
