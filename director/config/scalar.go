package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	reDecimal = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]*)$`)
	reOctal   = regexp.MustCompile(`^[-+]?0[0-9_]+$`)
)

// scalarProblem says what is wrong with a scalar given for a key of kind
// t (string, whole number or bool), or "" when nothing is. Only what
// reads one way is taken: yaml.v3 would also truncate 2.5 to 2, read 010
// as 8, 0x10 as 16, 1_000 as 1000 and yes/on as true.
func scalarProblem(n *yaml.Node, t reflect.Type, allowEmpty bool) string {
	switch t.Kind() {
	case reflect.String:
		return stringProblem(n, allowEmpty)
	case reflect.Int, reflect.Int64:
		return intProblem(n)
	case reflect.Bool:
		return boolProblem(n)
	}
	return fmt.Sprintf("cannot be read into %v", t) // a raw type this file does not know
}

func stringProblem(n *yaml.Node, allowEmpty bool) string {
	if n.ShortTag() == "!!str" && n.Value == "" && !allowEmpty {
		return `empty (""): give a value, or remove the key for the default`
	}
	// Numbers, booleans and dates are taken as written: "version: 1.10"
	// in a string key stays "1.10".
	return ""
}

func intProblem(n *yaml.Node) string {
	v := n.Value
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	switch tag := n.ShortTag(); {
	case tag == "!!int" && reDecimal.MatchString(v):
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return v + " is too large"
		}
		return ""
	case tag == "!!int" && reOctal.MatchString(v):
		return fmt.Sprintf("%s has a leading zero, which YAML reads as an octal number: write it without", v)
	case tag == "!!int":
		return fmt.Sprintf("%s is not a plain decimal number: write it with the digits 0-9 only", v)
	case tag == "!!float" && reDecimal.MatchString(v):
		return v + " is too large"
	case tag == "!!float":
		return v + " is not a whole number"
	case quoted && reDecimal.MatchString(v):
		return fmt.Sprintf("%q is quoted, which makes it text: write the number without quotes", v)
	}
	return fmt.Sprintf("%q is not a whole number", v)
}

func boolProblem(n *yaml.Node) string {
	v := n.Value
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	switch {
	case n.ShortTag() == "!!bool":
		return ""
	case quoted && (strings.EqualFold(v, "true") || strings.EqualFold(v, "false")):
		return fmt.Sprintf("%q is quoted, which makes it text: write %s without quotes", v, strings.ToLower(v))
	}
	switch strings.ToLower(v) {
	case "yes", "y", "on":
		return fmt.Sprintf("%q is not true or false: write true (YAML 1.1 spellings read differently from tool to tool)", v)
	case "no", "n", "off":
		return fmt.Sprintf("%q is not true or false: write false (YAML 1.1 spellings read differently from tool to tool)", v)
	}
	return fmt.Sprintf("%q is not true or false", v)
}
