package config

import "testing"

// TestRTPriority checks vrrp.rt_priority: off by default, taken as given
// in 0-99 (its refusals are in testdata/broken/vrrp-rt-priority-range).
func TestRTPriority(t *testing.T) {
	for _, tc := range []struct {
		line string
		want int
	}{{"", 0}, {"  rt_priority: 0\n", 0}, {"  rt_priority: 50\n", 50}, {"  rt_priority: 99\n", 99}} {
		path := writeConfig(t, "node: n\nvrrp:\n"+tc.line+
			"  instances:\n    - {name: a, interface: lo, vrid: 1, virtual_ips: [192.0.2.10/24]}\n", nil)
		cfg, err := Load(path, Options{Host: fakeHost{}})
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if cfg.RTPriority != tc.want {
			t.Errorf("%q: RTPriority %d, want %d", tc.line, cfg.RTPriority, tc.want)
		}
	}
}
