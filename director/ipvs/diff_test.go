package ipvs

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
)

var (
	web = config.Service{
		Name: "web", Virtual: netip.MustParseAddrPort("192.0.2.10:80"), Protocol: "tcp",
		Scheduler: "wlc", Forward: config.NAT,
		Sorry: netip.MustParseAddrPort("198.51.100.99:8080"),
		Reals: []config.Real{
			{Addr: netip.MustParseAddrPort("198.51.100.11:8080"), Weight: 100, Forward: config.NAT},
			{Addr: netip.MustParseAddrPort("198.51.100.12:8080"), Weight: 50, Forward: config.NAT},
		},
	}
	v6 = config.Service{
		Name: "v6", Virtual: netip.MustParseAddrPort("[2001:db8::10]:443"), IPv6: true, Protocol: "tcp",
		Scheduler: "mh", SchedulerFlags: []string{"mh-port"}, Forward: config.DR,
		Persistence: &config.Persistence{Timeout: 600 * time.Second, Netmask: 64},
		Reals:       []config.Real{{Addr: netip.MustParseAddrPort("[2001:db8:1::11]:443"), Weight: 1, Forward: config.DR}},
	}
	mark = config.Service{
		Name: "mark", FWMark: 7, Scheduler: "rr", Forward: config.Tunnel,
		Reals: []config.Real{{Addr: netip.MustParseAddrPort("203.0.113.21:0"), Weight: 1, Forward: config.Tunnel}},
	}
)

func all(ServiceKey) bool { return true }

// converge applies Diff(want, kernel) to the fake and checks it now holds
// want exactly and that a second Diff has nothing to do.
func converge(t *testing.T, f *Memory, want Table) []Op {
	t.Helper()
	have, _ := f.Table()
	ops := Diff(want, have, all)
	if _, err := Apply(f, ops); err != nil {
		t.Fatalf("apply %v: %v", ops, err)
	}
	got, _ := f.Table()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("kernel after apply:\n%v\nwant:\n%v", got, want)
	}
	if again := Diff(want, got, all); len(again) != 0 {
		t.Fatalf("second diff not empty: %v", again)
	}
	return ops
}

func TestColdApplyAndIdempotence(t *testing.T) {
	f := NewMemory()
	ops := converge(t, f, Want([]config.Service{web, v6, mark}, AllUp))
	if len(ops) != 3+4 { // three services, four destinations (no sorry: reals are up)
		t.Errorf("%d ops, want 7: %v", len(ops), ops)
	}
	got, _ := f.Table()
	s := got[KeyOf(v6)]
	if s.Flags != FlagPersistent|FlagSched2 || s.Timeout != 600 || s.Netmask != 64 {
		t.Errorf("v6 service settings: %+v", s)
	}
}

func TestOneWeightChangeIsOneOperation(t *testing.T) {
	f := NewMemory()
	converge(t, f, Want([]config.Service{web, v6}, AllUp))
	changed := web
	changed.Reals = append([]config.Real(nil), web.Reals...)
	changed.Reals[1].Weight = 75
	ops := converge(t, f, Want([]config.Service{changed, v6}, AllUp))
	if len(ops) != 1 || ops[0].Kind != UpdateDest || ops[0].Addr != web.Reals[1].Addr || ops[0].Dest.Weight != 75 {
		t.Errorf("ops = %v, want one update-dest", ops)
	}
}

func TestRemovedServiceOnlyAndForeignUntouched(t *testing.T) {
	f := NewMemory()
	converge(t, f, Want([]config.Service{web, v6}, AllUp))
	foreign := ServiceKey{Protocol: syscall.IPPROTO_UDP, Addr: netip.MustParseAddrPort("203.0.113.53:53")}
	if err := f.Apply(Op{Kind: AddService, Key: foreign, Service: Service{Scheduler: "rr"}}); err != nil {
		t.Fatal(err)
	}
	owned := func(k ServiceKey) bool { return k == KeyOf(web) || k == KeyOf(v6) }
	have, _ := f.Table()
	ops := Diff(Want([]config.Service{web}, AllUp), have, owned)
	if len(ops) != 1 || ops[0].Kind != DelService || ops[0].Key != KeyOf(v6) {
		t.Fatalf("ops = %v, want one del-service of v6", ops)
	}
	if _, err := Apply(f, ops); err != nil {
		t.Fatal(err)
	}
	got, _ := f.Table()
	if _, ok := got[foreign]; !ok || len(got) != 2 {
		t.Errorf("kernel after removal: %v", got)
	}
}

func TestDownRealRemovedOrQuiesced(t *testing.T) {
	down := func(_ string, a netip.AddrPort) RealState { return RealState{Up: a != web.Reals[0].Addr} }
	for _, quiescent := range []bool{false, true} {
		f := NewMemory()
		svc := web
		svc.Quiescent = quiescent
		converge(t, f, Want([]config.Service{svc}, AllUp))
		ops := converge(t, f, Want([]config.Service{svc}, down))
		want := Op{Kind: DelDest, Key: KeyOf(web), Addr: web.Reals[0].Addr}
		if quiescent {
			want = Op{Kind: UpdateDest, Key: KeyOf(web), Addr: web.Reals[0].Addr, Dest: Dest{Forward: config.NAT}}
		}
		if len(ops) != 1 || !reflect.DeepEqual(ops[0], want) {
			t.Errorf("quiescent=%v: ops %v, want %v", quiescent, ops, want)
		}
	}
}

func TestSorryServerComesAndGoes(t *testing.T) {
	f := NewMemory()
	converge(t, f, Want([]config.Service{web}, AllUp))
	allDown := func(string, netip.AddrPort) RealState { return RealState{} }
	ops := converge(t, f, Want([]config.Service{web}, allDown))
	if len(ops) != 3 || ops[0].Kind != AddDest || ops[0].Addr != web.Sorry {
		t.Fatalf("going down: %v, want the sorry server added before the reals leave", ops)
	}
	oneBack := func(_ string, a netip.AddrPort) RealState { return RealState{Up: a == web.Reals[1].Addr} }
	ops = converge(t, f, Want([]config.Service{web}, oneBack))
	if len(ops) != 2 || ops[0].Kind != AddDest || ops[0].Addr != web.Reals[1].Addr || ops[1].Addr != web.Sorry {
		t.Errorf("coming back: %v, want the real added, then the sorry server removed", ops)
	}
	drained := func(string, netip.AddrPort) RealState { return RealState{Up: true, Drained: true} }
	got := Want([]config.Service{web}, drained)[KeyOf(web)]
	if len(got.Dests) != 3 || got.Dests[web.Sorry].Weight != 1 || got.Dests[web.Reals[0].Addr].Weight != 0 {
		t.Errorf("all drained: %v, want reals at weight 0 and the sorry server in", got.Dests)
	}
}

func TestDriftRepaired(t *testing.T) {
	f := NewMemory()
	want := Want([]config.Service{web, v6}, AllUp)
	converge(t, f, want)
	// Someone edits a weight, deletes a service and adds a destination.
	f.Edit(func(t Table) {
		s := t[KeyOf(web)]
		s.Dests[web.Reals[0].Addr] = Dest{Forward: config.NAT, Weight: 1}
		s.Dests[netip.MustParseAddrPort("198.51.100.66:8080")] = Dest{Forward: config.NAT, Weight: 1}
		delete(t, KeyOf(v6))
	})
	ops := converge(t, f, want)
	if len(ops) != 4 { // add v6 + its dest, fix the weight, drop the stray dest
		t.Errorf("repair ops: %v", ops)
	}
}

func TestFakeRefusesWrongOrder(t *testing.T) {
	f := NewMemory()
	ops := Diff(Want([]config.Service{web}, AllUp), Table{}, all)
	for i, j := 0, len(ops)-1; i < j; i, j = i+1, j-1 {
		ops[i], ops[j] = ops[j], ops[i]
	}
	if _, err := Apply(f, ops); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("destinations before their service: err %v, want ESRCH", err)
	}
	f = NewMemory()
	if err := f.Apply(Op{Kind: AddService, Key: KeyOf(web), Service: Service{Scheduler: "roundrobin"}}); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("unknown scheduler: %v", err)
	}
	_ = f.Apply(Op{Kind: AddService, Key: KeyOf(web), Service: Service{Scheduler: "rr"}})
	if err := f.Apply(Op{Kind: AddService, Key: KeyOf(web), Service: Service{Scheduler: "rr"}}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("duplicate service: %v", err)
	}
	if err := f.Apply(Op{Kind: AddDest, Key: KeyOf(web), Addr: web.Reals[0].Addr, Dest: Dest{Weight: 1, Lower: 5}}); !errors.Is(err, syscall.ERANGE) {
		t.Errorf("lower threshold above upper: %v", err)
	}
}

// TestDiffConvergesRandom: from any kernel table, applying Diff reaches
// the wanted table, in an order the fake kernel accepts.
func TestDiffConvergesRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		f := &Memory{t: cacheOf(randomTable(rng))}
		converge(t, f, randomTable(rng))
	}
}

func randomTable(rng *rand.Rand) Table {
	t := Table{}
	for i := 0; i < rng.IntN(4); i++ {
		k := ServiceKey{Protocol: syscall.IPPROTO_TCP, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + rng.IntN(3))}), 80)}
		s := Service{Scheduler: kernelSchedulers[rng.IntN(3)], Dests: map[netip.AddrPort]Dest{}}
		if rng.IntN(2) == 0 {
			s.Flags, s.Timeout, s.Netmask = FlagPersistent, uint32(60*(1+rng.IntN(2))), 32
		}
		for j := 0; j < rng.IntN(4); j++ {
			a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(11 + rng.IntN(4))}), 8080)
			s.Dests[a] = Dest{Forward: config.NAT, Weight: rng.IntN(3)}
		}
		t[k] = s
	}
	return t
}
