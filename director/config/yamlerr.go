package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

var (
	reLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	reUnknown  = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	reUnmarsh  = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
	reAlready  = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	knownWords = knownKeys()
)

// syntaxError turns a yaml.v3 parse error into a line and a message.
func syntaxError(err error) (int, string) {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := reLine.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, "YAML syntax: " + m[2]
	}
	return 0, "YAML syntax: " + s
}

// translateTypeError rewrites one of yaml.v3's "line N: ..." decode errors
// in operator terms, naming the key found on that line.
func translateTypeError(s string, pos positions) (int, string, string) {
	m := reLine.FindStringSubmatch(s)
	if m == nil {
		return 0, "", s
	}
	line, _ := strconv.Atoi(m[1])
	path, msg := pos.byLine[line], m[2]
	if u := reUnknown.FindStringSubmatch(msg); u != nil {
		msg = fmt.Sprintf("unknown key %q", u[1]) + suggest(u[1])
	} else if u := reUnmarsh.FindStringSubmatch(msg); u != nil {
		value := u[2]
		if v, ok := pos.values[line]; ok {
			value = v // yaml.v3 shortens long values in its messages
		}
		msg = describeMismatch(u[1], value, u[3])
	} else if u := reAlready.FindStringSubmatch(msg); u != nil {
		msg = fmt.Sprintf("key %q appears twice (first at line %s)", u[1], u[2])
	}
	return line, path, msg
}

// describeMismatch explains a value of the wrong YAML kind for its key.
func describeMismatch(tag, value, goType string) string {
	want := map[string]string{
		"int": "a whole number", "uint32": "a whole number >= 0", "bool": "true or false",
		"string": "a single value", "[]string": "a list", "[]int": "a list of numbers",
	}[strings.TrimPrefix(goType, "*")]
	if want == "" {
		switch {
		case strings.HasPrefix(goType, "[]"):
			want = "a list"
		default:
			want = "a mapping of keys"
		}
	}
	switch tag {
	case "seq":
		return "expected " + want + ", not a list"
	case "map":
		return "expected " + want + ", not a mapping"
	}
	if want == "a list" || strings.HasPrefix(want, "a list") {
		return fmt.Sprintf("expected %s, not the single value %q", want, value)
	}
	return fmt.Sprintf("%q is not %s", value, want)
}

// suggest proposes the known key closest to an unknown one, to catch typos
// such as "wieght".
func suggest(key string) string {
	best, bestD := "", 3
	for _, k := range knownWords {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// knownKeys gathers every YAML key of the raw types by reflection, so the
// suggestions never drift from the structs.
func knownKeys() []string {
	seen := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if tag := strings.Split(f.Tag.Get("yaml"), ",")[0]; tag != "" && !seen[tag] {
				seen[tag] = true
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeOf(rawMain{}))
	walk(reflect.TypeOf(rawService{}))
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	return keys
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
