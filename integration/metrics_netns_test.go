//go:build integration && !ipvs

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/examples"
	"github.com/lvsd/lvsd/integration/netlab"
)

// obsLab is a pair of lvsd directors (a, b: real VRRP, in-memory IPVS)
// with one service of two realservers (app, two ports), and a monitoring
// host (mon) that scrapes both, all on one segment.
type obsLab struct {
	l    *netlab.T
	bin  string
	ns   map[string]string
	conf map[string]string
	sock map[string]string
	http map[string]*http.Client // from mon
	stop map[string]func()       // the realservers' listeners
}

var obsAddr = map[string]string{"a": "192.0.2.1", "b": "192.0.2.2", "app": "192.0.2.20", "mon": "192.0.2.100"}

func newObsLab(t *testing.T) *obsLab {
	o := &obsLab{l: netlab.ForTest(t), bin: lvsdBinary(t), conf: map[string]string{}, sock: map[string]string{},
		stop: map[string]func(){}}
	hosts := map[string]string{}
	for h, a := range obsAddr {
		hosts[h] = a + "/24"
	}
	o.ns = o.l.Segment("e0", hosts)
	for _, port := range []string{"7001", "7002"} {
		o.stop[port] = o.l.Echo(o.ns["app"], obsAddr["app"]+":"+port)
	}
	// Every HTTP request of the test leaves from mon, as a scraper's would.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
			return o.l.Lab.Dial(o.ns["mon"], addr, 2*time.Second)
		},
		DisableKeepAlives: true,
	}}
	o.http = map[string]*http.Client{"mon": client}
	for name, prio := range map[string]int{"a": 150, "b": 100} {
		o.conf[name] = o.l.Write(name+"/lvsd.yaml", fmt.Sprintf(`node: %s
control: {socket: ctl.sock}
http: {listen: "127.0.0.1:9180, %s:9180"}
vrrp:
  instances:
    - name: front
      interface: e0
      vrid: 51
      priority: %d
      advert_interval: 100ms
      virtual_ips: [192.0.2.10/24]
`, name, obsAddr[name], prio))
		o.l.Write(name+"/services.d/echo.yaml", `name: echo
virtual: 192.0.2.10:7000
forward: nat
check: {type: tcp, interval: 100ms, timeout: 100ms, rise: 2, fall: 2}
reals:
  - address: 192.0.2.20:7001
  - address: 192.0.2.20:7002
    weight: 5
`)
		o.sock[name] = filepath.Join(o.l.Dir, name, "ctl.sock")
		o.l.Start(o.ns[name], "lvsd-"+name, o.bin, "run", "--ipvs=memory", "-c", o.conf[name])
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("lvsd-%s log:\n%s", name, o.l.LogOf("lvsd-"+name))
			}
		})
		waitUp(t, o.sock[name])
	}
	return o
}

// get fetches url from mon.
func (o *obsLab) get(url string) (string, error) {
	resp, err := o.http["mon"].Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// scrape returns director name's exposition and its families.
func (o *obsLab) scrape(name string) (string, map[string]*dto.MetricFamily) {
	o.l.TB.Helper()
	text, err := o.get("http://" + obsAddr[name] + ":9180/metrics")
	if err != nil {
		o.l.TB.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		o.l.TB.Fatalf("%s's exposition does not parse: %v", name, err)
	}
	return text, fams
}

// value returns the value of the series of family name whose labels
// include want (pairs), or -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	mf := fams[name]
	if mf == nil {
		return -1
	}
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// TestMetricsPairNetns scrapes /metrics from both directors of a pair and
// checks the values against the known state, runs promtool on the
// exposition, has a real Prometheus scrape both and answer PromQL and
// fire the split-brain rule, and loads the status page in Chromium.
func TestMetricsPairNetns(t *testing.T) {
	o := newObsLab(t)
	l := o.l
	waitStatus(t, o.sock["a"], func(s api.Status) bool { return len(s.VRRP) == 1 && s.VRRP[0].State == api.StateMaster })
	waitStatus(t, o.sock["b"], func(s api.Status) bool { return len(s.VRRP) == 1 && s.VRRP[0].State == api.StateBackup })
	front := []string{"vrrp_instance", "front", "interface", "e0", "vrid", "51"}

	textA, a := o.scrape("a")
	textB, b := o.scrape("b")
	if v := value(a, "lvsd_vrrp_state", front...); v != 2 {
		t.Errorf("a: lvsd_vrrp_state %v, want 2 (MASTER)", v)
	}
	if v := value(b, "lvsd_vrrp_state", front...); v != 1 {
		t.Errorf("b: lvsd_vrrp_state %v, want 1 (BACKUP)", v)
	}
	if v := value(b, "lvsd_vrrp_master_advert_age_seconds", front...); v < 0 || v > 1 {
		t.Errorf("b: master advert age %v, want under a second (a advertises every 100ms)", v)
	}
	for name, text := range map[string]string{"a": textA, "b": textB} {
		promtoolCheckMetrics(t, name, text)
	}

	// Counters rise with traffic: adverts, checks.
	time.Sleep(500 * time.Millisecond)
	_, a2 := o.scrape("a")
	_, b2 := o.scrape("b")
	rising := func(what string, before, after map[string]*dto.MetricFamily, name string, labels ...string) {
		if x, y := value(before, name, labels...), value(after, name, labels...); !(x >= 0 && y > x) {
			t.Errorf("%s: %s went from %v to %v, want it rising", what, name, x, y)
		}
	}
	rising("a", a, a2, "lvsd_vrrp_adverts_sent_total", front...)
	rising("b", b, b2, "lvsd_vrrp_adverts_received_total", front...)
	rising("a", a, a2, "lvsd_real_checks_total", "remote_port", "7001")
	rising("a", a, a2, "lvsd_check_duration_seconds", "service", "echo")

	// A stopped realserver is down after the fall count (2), on both.
	real2 := []string{"service", "echo", "local_address", "192.0.2.10", "local_port", "7000", "proto", "TCP",
		"remote_address", "192.0.2.20", "remote_port", "7002"}
	if v := value(a2, "lvsd_real_up", real2...); v != 1 {
		t.Fatalf("a: lvsd_real_up of 7002 before stopping it: %v, want 1", v)
	}
	o.stop["7002"]()
	for _, name := range []string{"a", "b"} {
		var fams map[string]*dto.MetricFamily
		l.WaitFor(10*time.Second, name+": lvsd_real_up of the stopped realserver 0", func() bool {
			_, fams = o.scrape(name)
			return value(fams, "lvsd_real_up", real2...) == 0
		})
		if v := value(fams, "lvsd_real_check_failures_total", append(real2, "reason", "refused")...); v < 2 {
			t.Errorf("%s: refused failures %v when down, want at least the fall count 2", name, v)
		}
		if v := value(fams, "lvsd_real_effective_weight", real2...); v != 0 {
			t.Errorf("%s: effective weight of a down realserver %v, want 0", name, v)
		}
	}

	// A drain shows on a, and only on a.
	real1 := []string{"service", "echo", "remote_address", "192.0.2.20", "remote_port", "7001"}
	if out, err := exec.Command(o.bin, "drain", "echo", "192.0.2.20:7001", "-c", o.conf["a"]).CombinedOutput(); err != nil {
		t.Fatalf("lvsd drain: %v\n%s", err, out)
	}
	_, a3 := o.scrape("a")
	_, b3 := o.scrape("b")
	if v := value(a3, "lvsd_real_drained", real1...); v != 1 {
		t.Errorf("a: lvsd_real_drained %v after lvsd drain, want 1", v)
	}
	if v, w := value(a3, "lvsd_real_effective_weight", real1...), value(a3, "lvsd_real_weight", real1...); v != 0 || w != 1 {
		t.Errorf("a: drained realserver weight %v, effective %v; want 1 and 0", w, v)
	}
	if v := value(b3, "lvsd_real_drained", real1...); v != 0 {
		t.Errorf("b: lvsd_real_drained %v, want 0 (drained on a only)", v)
	}

	// Every metric the dashboard and the alerting rules use is in a real
	// exposition (either director's), now that a realserver failed and
	// changed state (their failure and change series appear then).
	checkExamplesAgainst(t, a3, b3)

	statusPageInChromium(t, o)
	prometheusScrapesThePair(t, o)
}

// promtoolCheckMetrics runs promtool check metrics on an exposition: it
// must report nothing.
func promtoolCheckMetrics(t *testing.T, name, text string) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		netlab.SkipOrFail(t, "promtool not installed (make deps)")
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics on %s's exposition: %v\n%s", name, err, out)
	}
}

func checkExamplesAgainst(t *testing.T, expositions ...map[string]*dto.MetricFamily) {
	t.Helper()
	dash, err := examples.DashboardExprs("../examples/grafana/lvsd-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := examples.RuleExprs("../examples/prometheus/lvsd-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range examples.MetricFamilies(append(dash, rules...)) {
		found := false
		for _, fams := range expositions {
			found = found || fams[n] != nil
		}
		if !found {
			t.Errorf("%s: used by the dashboard or the rules, not in the exposition", n)
		}
	}
}

// statusPageInChromium loads a's status page in headless Chromium from
// mon: the DOM names every service, realserver and instance state, a
// screenshot is kept, and Chromium's network log shows no request to any
// host but a.
func statusPageInChromium(t *testing.T, o *obsLab) {
	t.Helper()
	if _, err := exec.LookPath("chromium"); err != nil {
		netlab.SkipOrFail(t, "chromium not installed (make deps)")
	}
	dir := t.ArtifactDir()
	url := "http://" + obsAddr["a"] + ":9180/"
	chromium := func(profile string, args ...string) string {
		base := []string{"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + filepath.Join(t.TempDir(), profile)}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", o.ns["mon"]}, append(base, append(args, url)...)...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v", args, err)
		}
		return string(out)
	}
	netlog := filepath.Join(dir, "chromium-netlog.json")
	dom := chromium("dom", "--dump-dom", "--log-net-log="+netlog)
	for _, want := range []string{
		`data-service="echo"`,
		`data-real="192.0.2.20:7001" data-state="drained"`,
		`data-real="192.0.2.20:7002" data-state="down"`,
		`data-instance="front" data-state="MASTER"`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("status page DOM lacks %s", want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "status-page.html"), []byte(dom), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "status-page.png")
	chromium("shot", "--window-size=1280,900", "--screenshot="+shot)
	if st, err := os.Stat(shot); err != nil || st.Size() < 1000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
	t.Logf("status page screenshot: %s", shot)
	hosts := requestedHosts(t, netlog, "http://"+obsAddr["a"])
	if !hosts[obsAddr["a"]+":9180"] {
		t.Errorf("chromium's net log %s does not show the page's own request (hosts %v)", netlog, hosts)
	}
	for h := range hosts {
		if h != obsAddr["a"]+":9180" {
			t.Errorf("the status page made a request to %s", h)
		}
	}
}

// requestedHosts reads a Chromium net log and returns the host:port of
// every request the page made: the URL requests started in the page's
// network isolation key (site), its navigation and its subresources.
// Chromium's own background requests (component updates, time, accounts)
// carry another key and are not the page's; in mon they reach nobody.
func requestedHosts(t *testing.T, path, site string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Constants struct {
			EventTypes map[string]int `json:"logEventTypes"`
		} `json:"constants"`
		Events []struct {
			Type   int            `json:"type"`
			Params map[string]any `json:"params"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatalf("net log: %v", err)
	}
	start, ok := log.Constants.EventTypes["URL_REQUEST_START_JOB"]
	if !ok {
		t.Fatal("net log: no URL_REQUEST_START_JOB event type")
	}
	hosts := map[string]bool{}
	for _, e := range log.Events {
		if e.Type != start || e.Params["network_isolation_key"] != site+" "+site {
			continue
		}
		u, _ := e.Params["url"].(string)
		_, rest, _ := strings.Cut(u, "://")
		hosts[strings.SplitN(rest, "/", 2)[0]] = true
	}
	return hosts
}

// prometheusScrapesThePair starts Debian's Prometheus in mon (loopback
// web port, a temporary data directory), lets it scrape both directors
// every second, asks PromQL for the master and the realservers' states,
// then makes a split brain (b stops hearing a) and waits for the rule to
// fire.
func prometheusScrapesThePair(t *testing.T, o *obsLab) {
	t.Helper()
	if _, err := exec.LookPath("prometheus"); err != nil {
		netlab.SkipOrFail(t, "prometheus not installed (make deps)")
	}
	rules, _ := filepath.Abs("../examples/prometheus/lvsd-rules.yml")
	cfg := o.l.Write("prometheus.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: lvsd
    static_configs:
      - targets: ["%s:9180", "%s:9180"]
`, rules, obsAddr["a"], obsAddr["b"]))
	data := o.l.Mkdir("prometheus-data")
	o.l.Start(o.ns["mon"], "prometheus", "prometheus", "--config.file="+cfg, "--storage.tsdb.path="+data,
		"--web.listen-address=127.0.0.1:9090", "--log.level=warn")
	query := func(q string) map[string]float64 {
		body, err := o.get("http://127.0.0.1:9090/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		var r struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(body), &r) != nil {
			return nil
		}
		out := map[string]float64{}
		for _, s := range r.Data.Result {
			var v float64
			fmt.Sscan(fmt.Sprint(s.Value[1]), &v)
			out[s.Metric["instance"]] = v
		}
		return out
	}
	a, b := obsAddr["a"]+":9180", obsAddr["b"]+":9180"
	var got map[string]float64
	o.l.WaitFor(30*time.Second, "prometheus: lvsd_vrrp_state of both directors", func() bool {
		got = query(`lvsd_vrrp_state{vrrp_instance="front"}`)
		if len(got) < 2 {
			time.Sleep(200 * time.Millisecond)
		}
		return len(got) == 2
	}, func() string { return fmt.Sprint(got, "\n", o.l.LogOf("prometheus")) })
	if got[a] != 2 || got[b] != 1 {
		t.Errorf("PromQL lvsd_vrrp_state: %v, want %s 2 and %s 1", got, a, b)
	}
	if got = query(`lvsd_real_up{service="echo",remote_port="7002"}`); got[a] != 0 || got[b] != 0 || len(got) != 2 {
		t.Errorf("PromQL lvsd_real_up of the stopped realserver: %v, want 0 on both", got)
	}
	if got = query(`lvsd_real_up{service="echo",remote_port="7001"} * (1 - lvsd_real_drained)`); got[a] != 0 || got[b] != 1 {
		t.Errorf("PromQL up and not drained of 7001: %v, want 0 on a (drained), 1 on b", got)
	}

	// Split brain: b no longer hears a and takes the VIPs too.
	o.l.DropVRRP(o.ns["b"])
	defer o.l.AllowVRRP(o.ns["b"])
	waitStatus(t, o.sock["b"], func(s api.Status) bool { return s.VRRP[0].State == api.StateMaster })
	var alerts string
	o.l.WaitFor(60*time.Second, "prometheus: LvsdSplitBrain firing", func() bool {
		alerts, _ = o.get("http://127.0.0.1:9090/api/v1/alerts")
		firing := strings.Contains(alerts, `"alertname":"LvsdSplitBrain"`) && strings.Contains(alerts, `"state":"firing"`)
		if !firing {
			time.Sleep(250 * time.Millisecond)
		}
		return firing
	}, func() string { return alerts })
}
