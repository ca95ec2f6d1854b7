package kaconf

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// dump renders a tree one directive a line, "LINE: keyword args" indented
// by depth, "{}" marking an empty block.
func dump(nodes []*Node) string {
	var b strings.Builder
	var walk func([]*Node, string)
	walk = func(ns []*Node, ind string) {
		for _, n := range ns {
			b.WriteString(ind + filepath.Base(n.File) + ":" + itoa(n.Line) + " " + strings.Join(append([]string{n.Keyword}, n.Args...), "|"))
			if n.HasBlock && len(n.Block) == 0 {
				b.WriteString(" {}")
			}
			b.WriteByte('\n')
			walk(n.Block, ind+"  ")
		}
	}
	walk(nodes, "")
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func parseString(t *testing.T, files map[string]string, opts Options) (string, []Problem) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nodes, probs, err := Parse(filepath.Join(dir, "keepalived.conf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return dump(nodes), probs
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		want  string
		probs []string // substrings, in order
	}{
		{
			name: "comments and blocks",
			files: map[string]string{"keepalived.conf": `! header
# other comment
vrrp_instance VI_1 {   # trailing
    state MASTER ! bang comment
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
    }
}
`},
			want: "keepalived.conf:3 vrrp_instance|VI_1\n  keepalived.conf:4 state|MASTER\n  keepalived.conf:5 virtual_ipaddress\n    keepalived.conf:6 192.0.2.1/24|dev|eth0\n",
		},
		{
			name:  "braces on one line and on the next",
			files: map[string]string{"keepalived.conf": "a { b 1 } c\nd\n{\ne }\nf {}\n"},
			want:  "keepalived.conf:1 a\n  keepalived.conf:1 b|1\nkeepalived.conf:1 c\nkeepalived.conf:2 d\n  keepalived.conf:4 e\nkeepalived.conf:5 f {}\n",
		},
		{
			name:  "quotes keep comment characters and blanks",
			files: map[string]string{"keepalived.conf": `script "killall -0 sshd # not a comment" x` + "\n" + `y \# z` + "\n"},
			want:  "keepalived.conf:1 script|killall -0 sshd # not a comment|x\nkeepalived.conf:2 y|#|z\n",
		},
		{
			name: "include relative to the including file, glob in order",
			files: map[string]string{
				"keepalived.conf":   "include conf.d/*.conf\nlast\n",
				"conf.d/b.conf":     "b\ninclude ../sub/x.inc\n",
				"conf.d/a.conf":     "a\n",
				"sub/x.inc":         "x\n",
				"conf.d/ignore.txt": "ignored\n",
			},
			want: "a.conf:1 a\nb.conf:1 b\nx.inc:1 x\nkeepalived.conf:2 last\n",
		},
		{
			name:  "include braces",
			files: map[string]string{"keepalived.conf": "include {b,a}.inc\n", "a.inc": "a\n", "b.inc": "b\n"},
			want:  "b.inc:1 b\na.inc:1 a\n",
		},
		{
			name:  "include without a match",
			files: map[string]string{"keepalived.conf": "include missing.conf\nx\n"},
			want:  "keepalived.conf:2 x\n",
			probs: []string{"keepalived.conf:1: include", "no file matches"},
		},
		{
			name:  "conditional lines",
			files: map[string]string{"keepalived.conf": "@high priority 170\n@low priority 85\n@^high not_high\n@^low not_low\nall\n"},
			opts:  Options{ConfigID: "high"},
			want:  "keepalived.conf:1 priority|170\nkeepalived.conf:4 not_low\nkeepalived.conf:5 all\n",
		},
		{
			name:  "conditional lines without a config id",
			files: map[string]string{"keepalived.conf": "@high priority 170\n@^high other 1\n"},
			want:  "keepalived.conf:2 other|1\n",
		},
		{
			name: "parameters",
			files: map[string]string{"keepalived.conf": `$IF=eth0
$PRIO=100
interface $IF
priority ${PRIO}0
x $IF,$PRIO)
unknown $NOPE $IFX
$IF=eth1
interface $IF
`},
			want: "keepalived.conf:3 interface|eth0\nkeepalived.conf:4 priority|1000\nkeepalived.conf:5 x|eth0,100)\nkeepalived.conf:6 unknown|$NOPE|$IFX\nkeepalived.conf:8 interface|eth1\n",
		},
		{
			name: "multiline parameter",
			files: map[string]string{"keepalived.conf": `$RS=real_server 198.51.100.1 80 { \
  weight 2 \
}
virtual_server 192.0.2.1 80 {
  $RS
}
`},
			want: "keepalived.conf:4 virtual_server|192.0.2.1|80\n  keepalived.conf:5 real_server|198.51.100.1|80\n    keepalived.conf:5 weight|2\n",
		},
		{
			name:  "seq",
			files: map[string]string{"keepalived.conf": "~SEQ(n, 1, 2, 5) vrid $n\n~SEQx(h, 9, 11) 2001:db8::$h\n~SEQ(k, 2) k$k\n"},
			want:  "keepalived.conf:1 vrid|1\nkeepalived.conf:1 vrid|3\nkeepalived.conf:1 vrid|5\nkeepalived.conf:2 2001:db8::9\nkeepalived.conf:2 2001:db8::a\nkeepalived.conf:2 2001:db8::b\nkeepalived.conf:3 k1\nkeepalived.conf:3 k2\n",
		},
		{
			name:  "nested seq",
			files: map[string]string{"keepalived.conf": "~SEQ(i, 1, 2) ~SEQ(j, 1, 2) p ${i}.$j $i.x\n"},
			want:  "keepalived.conf:1 p|1.1|$i.x\nkeepalived.conf:1 p|1.2|$i.x\nkeepalived.conf:1 p|2.1|$i.x\nkeepalived.conf:1 p|2.2|$i.x\n",
		},
		{
			name:  "bad seq and braces",
			files: map[string]string{"keepalived.conf": "~SEQ(i, 1, -1, 5) x\n}\na {\n"},
			want:  "keepalived.conf:3 a {}\n",
			probs: []string{"keepalived.conf:1: invalid ~SEQ", "keepalived.conf:2: extra '}'", "keepalived.conf:3: a: missing '}'"},
		},
		{
			name:  "self-referring parameter",
			files: map[string]string{"keepalived.conf": "$A=x $A\ny $A\n"},
			want:  "",
			probs: []string{"keepalived.conf:2: parameter expansion does not end"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, probs := parseString(t, tt.files, tt.opts)
			if got != tt.want {
				t.Errorf("tree:\n%s\nwant:\n%s", got, tt.want)
			}
			var ps []string
			for _, p := range probs {
				ps = append(ps, filepath.Base(p.File)+":"+itoa(p.Line)+": "+p.Msg)
			}
			all := strings.Join(ps, "\n")
			for _, want := range tt.probs {
				i := strings.Index(all, want)
				if i < 0 {
					t.Errorf("problems %q lack %q", all, want)
					continue
				}
				all = all[i+len(want):]
			}
			if len(tt.probs) == 0 && len(ps) > 0 {
				t.Errorf("unexpected problems: %v", ps)
			}
		})
	}
}

func TestQuotedWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{`script "killall -0 sshd"`, []string{"script", "killall -0 sshd"}, true},
		{`misc_path '/bin/x "a b"' c\ d`, []string{"misc_path", `/bin/x "a b"`, "c d"}, true},
		{`x \x41\101\n`, []string{"x", "AA\n"}, true},
		{`x "open`, nil, false},
	}
	for _, tt := range tests {
		got, ok := QuotedWords(tt.in)
		if ok != tt.ok || (ok && !slices.Equal(got, tt.want)) {
			t.Errorf("QuotedWords(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParse checks that no input crashes the reader or makes it loop.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a {\n b }\n", "$A=1\nx $A\n", "~SEQ(i,3) x $i\n", "@id x\n", "$M=a \\\n b\n$M\n", "\"{\" }{"} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(dir, "keepalived.conf")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Parse(p, Options{ConfigID: "id"}); err != nil {
			t.Fatal(err)
		}
	})
}
