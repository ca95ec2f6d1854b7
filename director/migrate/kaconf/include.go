package kaconf

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// include handles "include PATTERN" (and keepalived's includer, includem,
// includew, includeb, includea, which differ only in what they report):
// the files matching the glob, relative to the including file's
// directory, are read in order in place of the line.
func (r *reader) include(text, file string, line int) bool {
	if !strings.HasPrefix(text, "include") || len(text) < 9 {
		return false
	}
	rest := text[7:]
	if strings.ContainsRune("rmwba", rune(rest[0])) && (rest[1] == ' ' || rest[1] == '\t') {
		rest = rest[1:]
	} else if rest[0] != ' ' && rest[0] != '\t' {
		return false
	}
	pattern := strings.TrimSpace(rest)
	if r.depth() >= maxIncludeDepth {
		r.problem(file, line, "include %s: more than %d levels deep (an include loop?)", pattern, maxIncludeDepth)
		return true
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(r.dir(), pattern)
	}
	var files []string
	for _, p := range expandBraces(pattern) {
		m, err := filepath.Glob(p)
		if err != nil {
			r.problem(file, line, "include %s: %v", pattern, err)
			continue
		}
		sort.Strings(m)
		files = append(files, m...)
	}
	if len(files) == 0 {
		r.problem(file, line, "include %s: no file matches", pattern)
		return true
	}
	depth := r.depth() + 1
	var readable [][2]string
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 != 0 {
			// keepalived skips directories and executables.
			r.problem(file, line, "include %s: skipping %s: not a regular non-executable file", pattern, f)
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			r.problem(file, line, "include %s: %v", pattern, err)
			continue
		}
		readable = append(readable, [2]string{f, string(data)})
	}
	// The stack reads its top first: push the last file first.
	for i := len(readable) - 1; i >= 0; i-- {
		r.push(readable[i][0], []byte(readable[i][1]), depth)
	}
	return true
}

// expandBraces expands the first "{a,b}" of a glob (GLOB_BRACE), then the
// rest, in order.
func expandBraces(p string) []string {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		return []string{p}
	}
	level, close := 0, -1
	var commas []int
	for i := open; i < len(p) && close < 0; i++ {
		switch p[i] {
		case '{':
			level++
		case '}':
			if level--; level == 0 {
				close = i
			}
		case ',':
			if level == 1 {
				commas = append(commas, i)
			}
		}
	}
	if close < 0 {
		return []string{p}
	}
	var out []string
	start := open + 1
	for _, end := range append(commas, close) {
		for _, tail := range expandBraces(p[close+1:]) {
			out = append(out, expandBraces(p[:open]+p[start:end]+tail)...)
		}
		start = end + 1
	}
	return out
}
