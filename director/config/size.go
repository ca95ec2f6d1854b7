package config

import (
	"strconv"
	"strings"
)

// sizeUnits are the units a size may carry, as GOMEMLIMIT reads them.
var sizeUnits = []struct {
	suffix string
	bytes  int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// minMemoryLimit is the smallest director.memory_limit taken: lvsd's own
// runtime and buffers need about this much before any service.
const minMemoryLimit = 32 << 20

// parseSize reads a size in bytes written as GOMEMLIMIT is: a whole
// number, with an optional unit B, KiB, MiB, GiB or TiB.
func parseSize(s string) (int64, bool) {
	mult := int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = n, u.bytes
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, false
	}
	return n * mult, true
}

// resolveMemoryLimit reads director.memory_limit: absent or 0 is none.
func resolveMemoryLimit(raw string, r reporter) int64 {
	if raw == "" {
		return 0
	}
	n, ok := parseSize(raw)
	switch {
	case !ok:
		r.at("director.memory_limit", "%q is not a size: a whole number with B, KiB, MiB, GiB or TiB, e.g. 512MiB", raw)
	case n != 0 && n < minMemoryLimit:
		r.at("director.memory_limit", "%s is below 32MiB, which lvsd needs before any service: raise it, or 0 for none", raw)
	default:
		return n
	}
	return 0
}
