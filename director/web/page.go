package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

//go:embed page.html.tmpl
var pageFS embed.FS

var pageTmpl = template.Must(template.New("page.html.tmpl").Funcs(template.FuncMap{
	"age": age, "clock": clock, "latency": latency, "vrrpClass": vrrpClass, "progress": api.Real.Progress,
}).ParseFS(pageFS, "page.html.tmpl"))

// pageData is what the template shows: the snapshot, its realservers
// grouped by service, and the time it was taken (ages are relative to
// it, not to the reader's clock).
type pageData struct {
	api.Status
	Now        time.Time
	Farm       []farmView
	Refresh    int
	Unchecked  int
	RejectedAt string
	Collapsed  bool // realservers in service are summed up, not listed
}

// farmView is a service as the page shows it: the realservers listed
// (all of them, or those that need an eye) and how many are summed up.
type farmView struct {
	api.FarmService
	Shown  []api.FarmReal
	Hidden int
}

// collapseAbove is the farm size from which the page lists only the
// realservers that are not in service, or on their way in or out, and
// sums up the others per service ("10/10 up"): at 1,000 services x 10
// the full list is 10,000 rows, 4 MB of HTML that took 160 ms to render
// and that no operator reads. ?reals=all lists them all, at any size.
const collapseAbove = 200

// page renders the status page. It refreshes itself with a meta tag (and
// a Refresh header for clients that ignore it): no script, no asset from
// elsewhere, so it works air-gapped and on a phone.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	st := s.snapshot(r)
	var buf bytes.Buffer
	if err := render(&buf, st, time.Now(), s.opts.Refresh, r.URL.Query().Get("reals") == "all"); err != nil {
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	refresh := strconv.Itoa(int(s.opts.Refresh / time.Second))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Refresh", refresh)
	// Nothing on the page loads from anywhere: say so to the browser too.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	_, _ = w.Write(buf.Bytes())
}

// Render writes the status page of st as of now, as / shows it (all
// lists every realserver); the benchmark and tests call it directly.
func Render(buf *bytes.Buffer, st api.Status, now time.Time, all bool) error {
	return render(buf, st, now, 5*time.Second, all)
}

func render(buf *bytes.Buffer, st api.Status, now time.Time, refresh time.Duration, all bool) error {
	d := pageData{Status: st, Now: now, Refresh: max(1, int(refresh/time.Second)),
		Collapsed: !all && len(st.Health) > collapseAbove}
	for _, h := range st.Health {
		if h.State == api.HealthUnchecked {
			d.Unchecked++
		}
	}
	for _, f := range st.Farm() {
		v := farmView{FarmService: f, Shown: f.Reals}
		if d.Collapsed {
			v.Shown = nil
			for _, r := range f.Reals {
				if inService(r.Health) {
					v.Hidden++
				} else {
					v.Shown = append(v.Shown, r)
				}
			}
		}
		d.Farm = append(d.Farm, v)
	}
	return pageTmpl.Execute(buf, d)
}

// inService says a realserver needs no eye: up by its checks with none
// failing, or unchecked and on, and not drained.
func inService(r api.Real) bool {
	return r.Up && !r.Drained && (r.State == api.HealthUp || r.State == api.HealthUnchecked)
}

// age says how long before now t was, to a precision that suits it.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "now"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs ago", d.Seconds())
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// clock is a time of day with milliseconds, or "-" for none.
func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("2006-01-02 15:04:05.000")
}

func latency(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func vrrpClass(s api.VRRPState) string {
	switch s {
	case api.StateMaster, api.StateResigning:
		return "master"
	case api.StateBackup:
		return "backup"
	case api.StateFault:
		return "fault"
	}
	return "init"
}
