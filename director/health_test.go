package director

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/healthcheck"
)

// filledCheck sets every field of a config.Check to a value of its own, so
// that a field the conversion forgets, or copies into the wrong place,
// shows.
func filledCheck(t *testing.T) config.Check {
	t.Helper()
	var c config.Check
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Interface().(type) {
		case string:
			f.SetString("value of " + name)
		case int:
			f.SetInt(int64(100 + i))
		case time.Duration:
			f.SetInt(int64(time.Duration(i+1) * time.Second))
		case bool:
			f.SetBool(true)
		case netip.Addr:
			f.Set(reflect.ValueOf(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})))
		case []int:
			f.Set(reflect.ValueOf([]int{200 + i, 300 + i}))
		case []string:
			f.Set(reflect.ValueOf([]string{"/bin/" + name, "--" + name}))
		default:
			t.Fatalf("config.Check.%s: type %s unknown to this test; teach it and checkSpec", name, f.Type())
		}
	}
	return c
}

// TestCheckSpec: every field of a configured check reaches the health
// runner under the same name, and the runner's Spec has no field that the
// configuration leaves unset.
func TestCheckSpec(t *testing.T) {
	c := filledCheck(t)
	s := checkSpec(c)
	cv, sv := reflect.ValueOf(c), reflect.ValueOf(s)
	for i := range cv.NumField() {
		name := cv.Type().Field(i).Name
		got := sv.FieldByName(name)
		if !got.IsValid() {
			t.Errorf("healthcheck.Spec lacks config.Check.%s", name)
			continue
		}
		if !reflect.DeepEqual(got.Interface(), cv.Field(i).Interface()) {
			t.Errorf("%s: %v, want %v", name, got.Interface(), cv.Field(i).Interface())
		}
	}
	for i := range sv.NumField() {
		if name := sv.Type().Field(i).Name; !cv.FieldByName(name).IsValid() {
			t.Errorf("healthcheck.Spec.%s has no counterpart in config.Check", name)
		}
	}
}

// TestTargets: one health check per realserver of every service, each
// with its own check (a realserver may override the service's), converted
// once per configured check.
func TestTargets(t *testing.T) {
	tcp := config.Check{Type: "tcp", Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 3}
	http := config.Check{Type: "http", Interval: 2 * time.Second, Timeout: time.Second, Rise: 1, Fall: 1, Path: "/up"}
	a, b, c := netip.MustParseAddrPort("198.51.100.1:80"), netip.MustParseAddrPort("198.51.100.2:80"),
		netip.MustParseAddrPort("198.51.100.3:53")
	cfg := &config.Config{Services: []config.Service{
		{Name: "web", Reals: []config.Real{{Addr: a, Check: &http}, {Addr: b, Check: &tcp}, {Addr: c, Check: &tcp}}},
		{Name: "dns", Reals: []config.Real{{Addr: c, Check: new(config.Check{Type: "none"})}}},
		{Name: "empty"},
	}}
	want := []healthcheck.Target{
		{Service: "web", Real: a, Check: new(healthcheck.Spec{Type: "http", Interval: 2 * time.Second, Timeout: time.Second, Rise: 1, Fall: 1, Path: "/up"})},
		{Service: "web", Real: b, Check: new(healthcheck.Spec{Type: "tcp", Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 3})},
		{Service: "web", Real: c, Check: new(healthcheck.Spec{Type: "tcp", Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 3})},
		{Service: "dns", Real: c, Check: new(healthcheck.Spec{Type: "none"})},
	}
	got := targets(cfg)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n%+v\nwant\n%+v", got, want)
	}
	// Realservers that share a configured check share its Spec.
	if len(got) == len(want) && (got[1].Check != got[2].Check || got[0].Check == got[1].Check) {
		t.Error("the Specs of realservers sharing a check are not shared, or those of different checks are")
	}
}
