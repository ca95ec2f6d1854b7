package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// keyPlaces maps, for the main file and for service files, every YAML key
// to the places it may be written ("reals[]", "vrrp.instances[].track"),
// gathered by reflection so the hints never drift from the structs.
var keyPlaces = map[reflect.Type]map[string][]string{
	reflect.TypeOf(rawMain{}):    gatherPlaces(reflect.TypeOf(rawMain{})),
	reflect.TypeOf(rawService{}): gatherPlaces(reflect.TypeOf(rawService{})),
}

func gatherPlaces(root reflect.Type) map[string][]string {
	places := map[string][]string{}
	var walk func(t reflect.Type, at string, depth int)
	walk = func(t reflect.Type, at string, depth int) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == durationType || depth > 8 {
			return
		}
		for name, f := range fieldsOf(t) {
			places[name] = append(places[name], at)
			sub, ft := joinPath(at, name), f.typ
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Slice {
				sub, ft = sub+"[]", ft.Elem()
			}
			walk(ft, sub, depth+1)
		}
	}
	walk(root, "", 0)
	for k := range places {
		sort.Strings(places[k])
		places[k] = compactStrings(places[k])
	}
	return places
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// unknownKey explains an unknown key: the key of this mapping it is
// closest to (a typo such as "wieght"), or where else it belongs (a key
// indented at the wrong level).
func unknownKey(key string, here map[string]field, file reflect.Type) string {
	best, bestD := "", 3
	for k := range here {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	switch elsewhere := keyPlaces[file][key]; {
	case best != "":
		return fmt.Sprintf("unknown key %q (did you mean %q?)", key, best)
	case len(elsewhere) > 0:
		where := make([]string, 0, len(elsewhere))
		for _, p := range elsewhere {
			if p == "" {
				p = "the top level"
			}
			where = append(where, p)
		}
		if len(where) > 3 {
			where = append(where[:3], "...")
		}
		return fmt.Sprintf("unknown key %q here: it is a key of %s (check the indentation)", key, strings.Join(where, ", "))
	}
	return fmt.Sprintf("unknown key %q", key)
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
