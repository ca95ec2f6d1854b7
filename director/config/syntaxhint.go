package config

import (
	"fmt"
	"regexp"
	"strings"
)

// lineScan is what scanLines learned about one line of a file: enough of
// YAML's block structure to say what is wrong on a line that yaml.v3
// refused. Columns are 0-based here.
type lineScan struct {
	content   bool         // holds YAML of its own (not blank, a comment, or the inside of a multi-line value)
	tabCol    int          // column+1 of a tab in the indentation; 0 if none
	starts    []blockStart // the list items and the key this line begins
	opens     bool         // ends with "key:" or "-": a nested block may follow
	flowCol   int          // column+1 of a [ or { still open at the end of the line
	flowChar  byte
	quoteCol  int // column+1 of a quote still open at the end of the line
	quoteChar byte
	badCol    int    // column+1 of a value starting with a reserved character
	colonCol  int    // column+1 of a ": " inside a plain value
	bare      string // a value alone on its line (no key), as written
	bareCol   int    // its column+1
	glueCol   int    // column+1 of a ":" glued to a key in such a value: "name:web"
}

// reGlued is a key and its value without the space YAML needs between
// them ("name:web"); not a URL ("http://...").
var reGlued = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*:[^\s:/]`)

type blockStart struct {
	col int
	seq bool // a list item, else a key
}

// scanState carries what spans lines: a block scalar, a flow collection,
// a quoted value.
type scanState struct {
	blockIndent int // >= 0 inside a block scalar: its parent's column
	depth       int // open [ and {
	quote       byte
	quoteLine   int // where the open quote opened (1-based line, column+1)
	quoteCol    int
}

func scanLines(lines []string) []lineScan {
	out, _ := scanAll(lines)
	return out
}

func scanAll(lines []string) ([]lineScan, scanState) {
	out := make([]lineScan, len(lines))
	st := scanState{blockIndent: -1}
	for i, l := range lines {
		out[i] = st.line(l)
		if out[i].quoteCol > 0 {
			st.quoteLine, st.quoteCol = i+1, out[i].quoteCol
		}
	}
	return out, st
}

// openAtEnd finds the quote still open at the end of the file: the line
// and column where it opened, and the quote character.
func openAtEnd(lines []string) (int, int, byte) {
	_, st := scanAll(lines)
	if st.quote == 0 {
		return 0, 0, 0
	}
	return st.quoteLine, st.quoteCol, st.quote
}

func (st *scanState) line(l string) lineScan {
	var ls lineScan
	body := strings.TrimLeft(l, " \t")
	indent := len(l) - len(body)
	if st.blockIndent >= 0 {
		if body == "" || indent > st.blockIndent {
			return ls
		}
		st.blockIndent = -1
	}
	if st.depth > 0 || st.quote != 0 {
		st.scanValue(&ls, l, indent)
		return ls
	}
	if body == "" || body[0] == '#' || l == "---" || l == "..." || strings.HasPrefix(l, "--- ") ||
		strings.HasPrefix(l, "... ") || l[0] == '%' {
		return ls
	}
	ls.content = true
	if t := strings.IndexByte(l[:indent], '\t'); t >= 0 {
		ls.tabCol = t + 1
	}
	st.block(&ls, l, indent)
	return ls
}

// block reads the list items, the key and the start of the value of a
// line outside any multi-line value.
func (st *scanState) block(ls *lineScan, l string, i int) {
	for i < len(l) && l[i] == '-' && (i+1 == len(l) || l[i+1] == ' ' || l[i+1] == '\t') {
		ls.starts = append(ls.starts, blockStart{col: i, seq: true})
		i = skipSpace(l, i+1)
		if i == len(l) || l[i] == '#' {
			ls.opens = true
			return
		}
	}
	i = skipProps(l, i)
	if i < len(l) && (l[i] == '"' || l[i] == '\'') {
		q := l[i]
		end := closeQuote(l, i+1, q)
		if end < 0 {
			ls.quoteCol, ls.quoteChar, st.quote = i+1, q, q
			return
		}
		if j := skipSpace(l, end+1); j < len(l) && l[j] == ':' && (j+1 == len(l) || l[j+1] == ' ') {
			ls.starts = append(ls.starts, blockStart{col: i})
			st.value(ls, l, j+1, i)
		}
		return
	}
	if c := keyColon(l, i); c >= 0 && i < len(l) && !strings.ContainsRune("[{|>*&!", rune(l[i])) {
		ls.starts = append(ls.starts, blockStart{col: i})
		st.value(ls, l, c+1, i)
		return
	}
	if i < len(l) && l[i] != '#' {
		ls.bare, ls.bareCol = strings.TrimRight(l[i:], " \t"), i+1
		if reGlued.MatchString(l[i:]) {
			ls.glueCol = i + strings.IndexByte(l[i:], ':') + 1
		}
	}
	st.value(ls, l, i, parentCol(ls, i))
}

// value reads the value that starts at i on a line whose innermost node
// is at column parent.
func (st *scanState) value(ls *lineScan, l string, i, parent int) {
	i = skipProps(l, skipSpace(l, i))
	if i == len(l) || l[i] == '#' {
		ls.opens = true
		return
	}
	switch c := l[i]; {
	case c == '"' || c == '\'' || c == '[' || c == '{':
		st.scanValue(ls, l, i)
	case c == '|' || c == '>':
		st.blockIndent = parent
	case c == '@' || c == '`' || c == '%':
		ls.badCol = i + 1
	case c == '*':
	default:
		if k := keyColon(l, i); k >= 0 {
			ls.colonCol = k + 1
		}
	}
}

// scanValue follows quotes and brackets from i to the end of the line,
// carrying what is still open to the next line.
func (st *scanState) scanValue(ls *lineScan, l string, i int) {
	for ; i < len(l); i++ {
		c := l[i]
		switch {
		case st.quote != 0:
			end := closeQuote(l, i, st.quote)
			if end < 0 {
				return
			}
			st.quote, i = 0, end
		case c == '"' || c == '\'':
			if end := closeQuote(l, i+1, c); end >= 0 {
				i = end
			} else {
				ls.quoteCol, ls.quoteChar, st.quote = i+1, c, c
				return
			}
		case c == '[' || c == '{':
			if st.depth == 0 {
				ls.flowCol, ls.flowChar = i+1, c
			}
			st.depth++
		case (c == ']' || c == '}') && st.depth > 0:
			st.depth--
			if st.depth == 0 {
				ls.flowCol = 0
			}
		case c == '#' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t'):
			return
		}
	}
}

// closeQuote returns the index of the quote q closing a value that
// started before i, or -1 when the line ends first.
func closeQuote(l string, i int, q byte) int {
	for ; i < len(l); i++ {
		switch {
		case q == '"' && l[i] == '\\':
			i++
		case q == '\'' && l[i] == '\'' && i+1 < len(l) && l[i+1] == '\'':
			i++
		case l[i] == q:
			return i
		}
	}
	return -1
}

// keyColon returns the index of the ":" that ends a plain key starting at
// i (a ":" followed by a space or the end of the line, before any
// comment), or -1.
func keyColon(l string, i int) int {
	for j := i; j < len(l); j++ {
		switch {
		case l[j] == '#' && j > i && (l[j-1] == ' ' || l[j-1] == '\t'):
			return -1
		case l[j] == ':' && (j+1 == len(l) || l[j+1] == ' ' || l[j+1] == '\t'):
			return j
		}
	}
	return -1
}

func skipSpace(l string, i int) int {
	for i < len(l) && (l[i] == ' ' || l[i] == '\t') {
		i++
	}
	return i
}

// skipProps skips an anchor (&name) or a tag (!tag) before a node.
func skipProps(l string, i int) int {
	for i < len(l) && (l[i] == '&' || l[i] == '!') {
		for i < len(l) && l[i] != ' ' && l[i] != '\t' {
			i++
		}
		i = skipSpace(l, i)
	}
	return i
}

func parentCol(ls *lineScan, i int) int {
	if n := len(ls.starts); n > 0 {
		return ls.starts[n-1].col
	}
	return i - 1
}

// explainLine says what is wrong on line k (1-based), given the lines
// before it, or false when it sees nothing wrong there. The line it
// returns is k, or the line before when the mistake there only shows on
// line k ("name:web" is a value until the next line's key).
func explainLine(lines []string, k int, yamlMsg string) (int, int, string, bool) {
	scans := scanLines(lines[:k])
	if c, msg, ok := explainScan(scans, k, lines[k-1], yamlMsg); ok {
		return k, c, msg, true
	}
	j := k - 1
	for j > 0 && !scans[j-1].content {
		j--
	}
	if j > 0 && scans[j-1].glueCol > 0 {
		return j, scans[j-1].glueCol, glued(scans[j-1].bare), true
	}
	return 0, 0, "", false
}

func glued(bare string) string {
	return fmt.Sprintf("no space after \":\": write %q", strings.Replace(bare, ":", ": ", 1))
}

func explainScan(scans []lineScan, k int, line, yamlMsg string) (int, string, bool) {
	ls := scans[k-1]
	switch {
	case ls.tabCol > 0:
		return ls.tabCol, "tab used for indentation; indent with spaces", true
	case ls.quoteCol > 0 && strings.HasSuffix(yamlMsg, "end of stream"):
		return ls.quoteCol, fmt.Sprintf("the %c opened here is not closed: end the value with %c", ls.quoteChar, ls.quoteChar), true
	case ls.flowCol > 0 && strings.HasPrefix(yamlMsg, "did not find expected ','"):
		if ls.flowChar == '[' {
			return ls.flowCol, "the [ opened here is not closed: end the list with ]", true
		}
		return ls.flowCol, "the { opened here is not closed: end the mapping with }", true
	case ls.badCol > 0:
		return ls.badCol, fmt.Sprintf("a value cannot start with %c: quote the value", line[ls.badCol-1]), true
	case ls.glueCol > 0:
		return ls.glueCol, glued(ls.bare), true
	case ls.bare != "" && !strings.Contains(ls.bare, ":") && strings.HasSuffix(yamlMsg, "expected ':'"):
		return ls.bareCol, fmt.Sprintf("%q is neither \"key: value\" nor a list item: is a \":\" missing?", ls.bare), true
	}
	if c, msg, ok := indentProblem(scans, k); ok {
		return c, msg, true
	}
	if ls.colonCol > 0 {
		return ls.colonCol, `the value contains ": ", which YAML reads as another key: quote the value`, true
	}
	return 0, "", false
}
