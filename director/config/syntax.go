package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxLocateBytes bounds the search for the line of a syntax error, which
// parses a growing beginning of the file once per line it tries.
const maxLocateBytes = 4 << 20

var reLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// parseFirst parses the first YAML document of data, as decodeFile does.
func parseFirst(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc)
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	return &doc, err
}

// yamlMessage splits a yaml.v3 error into its line (0 when it gives none)
// and its message.
func yamlMessage(err error) (int, string) {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := reLine.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, m[2]
	}
	return 0, s
}

// syntaxProblem places a YAML syntax error on the line to fix and says
// what to fix there. yaml.v3 reports the start of the enclosing block,
// not the offending token (and for parser errors that line counted from
// 0, on line 1 no line at all), in the parser's terms. The offending line
// is the first line whose beginning of the file fails with the very same
// error: a beginning that stops before the mistake either parses or fails
// elsewhere. Then explainLine says what is wrong on that line.
func syntaxProblem(data []byte, err error) (line, col int, msg string) {
	hint, yamlMsg := yamlMessage(err)
	lines := splitLines(data)
	if strings.HasSuffix(yamlMsg, "end of stream") {
		// The file ended inside a value: what is wrong is where it opened.
		if l, c, q := openAtEnd(lines); l > 0 {
			return l, c, fmt.Sprintf("YAML syntax: the %c opened here is not closed: end the value with %c", q, q)
		}
	}
	line = locate(data, len(lines), hint, err.Error())
	if line == 0 {
		line = max(hint, 1)
	}
	if line > len(lines) {
		line = max(len(lines), 1)
	}
	if l, c, m, ok := explainLine(lines, line, yamlMsg); ok {
		return l, c, "YAML syntax: " + m
	}
	return line, 0, "YAML syntax: " + translateSyntax(yamlMsg)
}

// locate returns the first line k from hint on such that the first k
// lines fail to parse with full, the error of the whole file, or 0 when
// the search grows too long. The enclosing block named in full comes
// before the mistake, so the search starts there.
func locate(data []byte, nlines, hint int, full string) int {
	spent := 0
	for k := max(hint, 1); k <= nlines && spent < maxLocateBytes; k++ {
		end := lineEnd(data, k)
		spent += end
		if _, err := parseFirst(data[:end]); err != nil && err.Error() == full {
			return k
		}
	}
	return 0
}

// lineEnd is the offset just past the k-th line break of data.
func lineEnd(data []byte, k int) int {
	off := 0
	for i := 0; i < k; i++ {
		j := bytes.IndexByte(data[off:], '\n')
		if j < 0 {
			return len(data)
		}
		off += j + 1
	}
	return off
}

// splitLines splits data into lines as YAML counts them once lone carriage
// returns are refused (see checkEncoding): at \n, dropping a \r before it.
func splitLines(data []byte) []string {
	s := strings.TrimPrefix(string(data), "\uFEFF")
	lines := strings.Split(s, "\n")
	if len(lines) > 1 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// translateSyntax says in an operator's terms what yaml.v3 found, when no
// hint for the line applied.
func translateSyntax(msg string) string {
	known := map[string]string{
		"found character that cannot start any token":                  "a character that cannot start a value here: quote the value",
		"found a tab character that violates indentation":              "tab used for indentation; indent with spaces",
		"found a tab character where an indentation space is expected": "tab used for indentation; indent with spaces",
		"mapping values are not allowed in this context":               `an unexpected ":" (quote a value that contains ": ", or check the indentation)`,
		"block sequence entries are not allowed in this context":       `an unexpected "- " (a list item cannot follow a value on the same line; check the indentation)`,
		"did not find expected key":                                    "expected a key here: check the indentation",
		"did not find expected '-' indicator":                          `expected a list item ("- ") here: check the indentation`,
		"could not find expected ':'":                                  `expected "key: value" here`,
		"did not find expected node content":                           "a value is missing here",
		"found unexpected end of stream":                               "the file ends inside a value: a quote or bracket is not closed",
		"did not find expected ',' or ']'":                             "a [ list is not closed with ], or an item lacks a comma",
		"did not find expected ',' or '}'":                             "a { mapping is not closed with }, or an entry lacks a comma",
		"found unexpected ':'":                                         `an unexpected ":": quote the value`,
		"found unknown escape character":                               `a backslash in a "double-quoted" value starts an escape: write \\ for one, or use 'single quotes'`,
	}
	if t, ok := known[msg]; ok {
		return t
	}
	if strings.HasPrefix(msg, "unknown anchor") {
		return msg + ": an alias (*name) must follow its anchor (&name)"
	}
	return msg
}
