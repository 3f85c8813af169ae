package feed

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
	"github.com/nuttx-feed/nuttx-feed/internal/store"
)

// t0 is when the test alerts start firing.
var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// firingAlert is the alert fp firing since start.
func firingAlert(fp string, start time.Time) Alert {
	return Alert{Status: AlertFiring, Fingerprint: fp, StartsAt: start,
		Labels:       map[string]string{"alertname": "IngestStopped", "severity": "critical", "job": "ingest", "instance": "farm-1"},
		Annotations:  map[string]string{"summary": "The ingest job stopped", "description": "No run for 1h."},
		GeneratorURL: "http://prometheus.example:9090/graph?g0.expr=up"}
}

// resolvedAlert is the alert fp from start to end.
func resolvedAlert(fp string, start, end time.Time) Alert {
	a := firingAlert(fp, start)
	a.Status, a.EndsAt = AlertResolved, end
	return a
}

// storedAlert is a stored state of fp.
func storedAlert(fp string, firing bool, start time.Time, thread string) *store.Alert {
	return &store.Alert{Fingerprint: fp, Firing: firing, StartsAt: start, Thread: thread, LastNote: thread}
}

func TestPlanAlerts(t *testing.T) {
	t1 := t0.Add(time.Hour)
	for _, c := range []struct {
		name  string
		prev  *store.Alert
		alert Alert
		want  []alertActionKind // none: nothing to do
	}{
		{"first firing opens a thread", nil, firingAlert("f", t0), []alertActionKind{alertOpen}},
		{"repeat of a firing alert", storedAlert("f", true, t0, "root"), firingAlert("f", t0), nil},
		{"late firing of an older episode", storedAlert("f", true, t1, "root"), firingAlert("f", t0), nil},
		{"new episode while firing (a resolution missed)", storedAlert("f", true, t0, "root"), firingAlert("f", t1), []alertActionKind{alertRefire}},
		{"resolved", storedAlert("f", true, t0, "root"), resolvedAlert("f", t0, t1), []alertActionKind{alertResolve}},
		{"resolved, a newer episode than stored", storedAlert("f", true, t0, "root"), resolvedAlert("f", t0.Add(time.Minute), t1), []alertActionKind{alertResolve}},
		{"resolved, an older episode than stored", storedAlert("f", true, t1, "root"), resolvedAlert("f", t0, t0.Add(time.Minute)), nil},
		{"resolved again (a duplicate)", storedAlert("f", false, t0, "root"), resolvedAlert("f", t0, t1), nil},
		{"firing again after resolving", storedAlert("f", false, t0, "root"), firingAlert("f", t1), []alertActionKind{alertRefire}},
		{"late firing after its resolution", storedAlert("f", false, t0, "root"), firingAlert("f", t0), nil},
		{"resolved, never seen: recorded only", nil, resolvedAlert("f", t0, t1), []alertActionKind{alertRecord}},
		{"late firing of an episode recorded resolved", storedAlert("f", false, t0, ""), firingAlert("f", t0), nil},
		{"new episode of an alert never posted opens a thread", storedAlert("f", false, t0, ""), firingAlert("f", t1), []alertActionKind{alertOpen}},
		{"resolved, a newer episode never seen firing", storedAlert("f", false, t0, "root"), resolvedAlert("f", t1, t1.Add(time.Minute)), []alertActionKind{alertRecord}},
	} {
		t.Run(c.name, func(t *testing.T) {
			states := map[string]*store.Alert{}
			if c.prev != nil {
				states["f"] = c.prev
			}
			var got []alertActionKind
			for _, a := range planAlerts(states, AlertNotification{Alerts: []Alert{c.alert}}) {
				if a.alert.Fingerprint != "f" || a.prev != c.prev {
					t.Errorf("action %+v", a)
				}
				got = append(got, a.kind)
			}
			if len(got) != len(c.want) || (len(got) == 1 && got[0] != c.want[0]) {
				t.Fatalf("actions %v, want %v", got, c.want)
			}
		})
	}
}

// TestPlanAlertsKeepsOrder: each alert of a notification is planned on
// its own state, in the notification's order.
func TestPlanAlertsKeepsOrder(t *testing.T) {
	states := map[string]*store.Alert{"b": storedAlert("b", true, t0, "root-b"), "c": storedAlert("c", true, t0, "root-c")}
	n := AlertNotification{Alerts: []Alert{firingAlert("c", t0), firingAlert("a", t0), resolvedAlert("b", t0, t0.Add(time.Minute))}}
	got := planAlerts(states, n)
	if len(got) != 2 || got[0].kind != alertOpen || got[0].alert.Fingerprint != "a" || got[1].kind != alertResolve || got[1].prev != states["b"] {
		t.Fatalf("actions %+v", got)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 400 * time.Millisecond: "0s", 45 * time.Second: "45s", 3*time.Minute + 20*time.Second: "3m 20s",
		5 * time.Minute: "5m", 2*time.Hour + 5*time.Minute + 59*time.Second: "2h 5m", 90 * time.Minute: "1h 30m",
		76 * time.Hour: "3d 4h", 48 * time.Hour: "2d",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// renderAlert renders the template name of the default texts for a.
func renderAlert(t *testing.T, at *AlertTemplates, name string, a Alert) string {
	t.Helper()
	text, err := at.render(name, viewOf(AlertNotification{ExternalURL: "http://alertmanager.example:9093"}, a))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestDefaultAlertTexts(t *testing.T) {
	at := DefaultAlertTemplates()
	a := firingAlert("f", t0)
	a.Labels["prometheus"], a.Labels["board"] = "monitoring/k8s", "sim"
	// instance, job and prometheus name internal hosts: left out.
	want := `Firing: IngestStopped (critical)
The ingest job stopped

No run for 1h.

board: sim

Source: http://prometheus.example:9090/graph?g0.expr=up
Dashboard: http://alertmanager.example:9093`
	if got := renderAlert(t, at, tmplFiring, a); got != want {
		t.Errorf("firing:\n%s\nwant:\n%s", got, want)
	}
	a.Annotations["dashboard"], a.Annotations["runbook_url"] = "https://grafana.example/d/ingest", "https://wiki.example/ingest"
	want = `Firing again: IngestStopped (critical)
The ingest job stopped

Source: http://prometheus.example:9090/graph?g0.expr=up
Dashboard: https://grafana.example/d/ingest
Runbook: https://wiki.example/ingest`
	if got := renderAlert(t, at, tmplRefiring, a); got != want {
		t.Errorf("refiring:\n%s\nwant:\n%s", got, want)
	}
	want = "Resolved after 1h 30m: IngestStopped\nThe ingest job stopped"
	if got := renderAlert(t, at, tmplResolved, resolvedAlert("f", t0, t0.Add(90*time.Minute))); got != want {
		t.Errorf("resolved:\n%s\nwant:\n%s", got, want)
	}
	// An alert with no name, labels or annotations still reads.
	bare := Alert{Status: AlertFiring, Fingerprint: "0a", StartsAt: t0}
	if got, want := renderAlert(t, at, tmplFiring, bare), "Firing: alert 0a\n\nDashboard: http://alertmanager.example:9093"; got != want {
		t.Errorf("bare alert:\n%s\nwant:\n%s", got, want)
	}
}

// writeTemplate writes text to a file of the test and returns its path.
func writeTemplate(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "alerts.tmpl")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAlertTemplateOverride(t *testing.T) {
	// A helper template of the file counts as used when a post template
	// calls it, even under an if, a range or a with.
	p := writeTemplate(t, `{{define "resolved"}}{{if true}}{{with .Name}}{{template "name" .}}{{end}}{{end}} is fine again ({{.Duration}}, `+
		`{{range $k, $v := .Labels}}{{if eq $k "job"}}{{template "job" $v}}{{end}}{{end}}){{end}}
{{define "name"}}{{.}}{{end}}{{define "job"}}{{.}}{{end}}`)
	at, err := LoadAlertTemplates(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := renderAlert(t, at, tmplResolved, resolvedAlert("f", t0, t0.Add(45*time.Second))), "IngestStopped is fine again (45s, ingest)"; got != want {
		t.Errorf("overridden resolved: %q, want %q", got, want)
	}
	if got := renderAlert(t, at, tmplFiring, firingAlert("f", t0)); !strings.HasPrefix(got, "Firing: IngestStopped (critical)\n") {
		t.Errorf("firing, not overridden: %q", got)
	}
}

// TestAlertTemplateLabelsWithout: a template picks the labels it shows
// with labelsWithout.
func TestAlertTemplateLabelsWithout(t *testing.T) {
	p := writeTemplate(t, `{{define "firing"}}{{.Name}}{{range labelsWithout .Labels "alertname" "severity"}} {{.Name}}={{.Value}}{{end}}{{end}}`)
	at, err := LoadAlertTemplates(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := renderAlert(t, at, tmplFiring, firingAlert("f", t0)), "IngestStopped instance=farm-1 job=ingest"; got != want {
		t.Errorf("firing: %q, want %q", got, want)
	}
}

func TestAlertTemplateErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.tmpl")
	for _, c := range []struct{ name, file, want string }{
		{"missing file", missing, "alert template: open " + missing + ": no such file or directory"},
		{"syntax", writeTemplate(t, "{{define \"firing\"}}\nFiring {{.Name}\n{{end}}"), "alert template: template: %s:2: bad character U+007D '}'"},
		{"unknown field", writeTemplate(t, "{{define \"firing\"}}\n\n{{.Nmae}}{{end}}"), "alert template: template: %s:3:2: executing \"firing\" at <.Nmae>: can't evaluate field Nmae"},
		{"blank text", writeTemplate(t, `{{define "resolved"}}{{if false}}x{{end}} {{end}}`), `alert template "resolved": the text is blank`},
		{"defines nothing known", writeTemplate(t, `{{define "fired"}}x{{end}}`), "alert template %s: defines none of firing, refiring, resolved"},
		{"a misspelled define beside a right one", writeTemplate(t, `{{define "resolved"}}ok{{end}}{{define "fireing"}}x{{end}}{{define "zz"}}y{{end}}`),
			`alert template %s: defines ["fireing" "zz"], which none of firing, refiring, resolved, burst uses (a misspelling?)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if strings.Contains(want, "%s") {
				want = strings.ReplaceAll(want, "%s", c.file)
			}
			_, err := LoadAlertTemplates(c.file)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("error %v, want %q", err, want)
			}
		})
	}
}

// receive hands n to the env's feed.
func (e *env) receive(alerts ...Alert) (AlertResult, error) {
	return e.feed.ReceiveAlerts(e.ctx, AlertNotification{Receiver: "nuttx-feed", ExternalURL: "http://alertmanager.example:9093", Alerts: alerts})
}

// TestReceiveAlerts follows one alert through a thread in a real store:
// its firing starts the thread, repeats post nothing, its resolution and
// a later firing reply to the root.
func TestReceiveAlerts(t *testing.T) {
	e := newFarmEnv(t)
	steps := []struct {
		alert Alert
		want  AlertResult
	}{
		{firingAlert("f", t0), AlertResult{Posts: 1}},
		{firingAlert("f", t0), AlertResult{}},
		{resolvedAlert("f", t0, t0.Add(90*time.Minute)), AlertResult{Posts: 1}},
		{resolvedAlert("f", t0, t0.Add(90*time.Minute)), AlertResult{}},
		{firingAlert("f", t0), AlertResult{}}, // late
		{firingAlert("f", t0.Add(3*time.Hour)), AlertResult{Posts: 1}},
		{resolvedAlert("g", t0, t0.Add(time.Minute)), AlertResult{StateChanges: 1}},
	}
	for i, s := range steps {
		got, err := e.receive(s.alert)
		if err != nil || got != s.want {
			t.Fatalf("step %d: %+v, %v; want %+v", i, got, err, s.want)
		}
	}
	notes := e.wantNotes(3)
	root := notes[0]
	if root.InReplyTo != "" || !strings.HasPrefix(root.Source, "Firing: IngestStopped (critical)") ||
		!strings.Contains(root.Content, `href="http://prometheus.example:9090/graph?g0.expr=up"`) {
		t.Errorf("root %+v", root)
	}
	if notes[1].InReplyTo != root.ID || !strings.HasPrefix(notes[1].Source, "Resolved after 1h 30m: IngestStopped") {
		t.Errorf("resolution %+v", notes[1])
	}
	if notes[2].InReplyTo != root.ID || !strings.HasPrefix(notes[2].Source, "Firing again: IngestStopped") {
		t.Errorf("firing again %+v", notes[2])
	}
	var st map[string]*store.Alert
	if err := e.db.View(e.ctx, func(tx *store.Tx) (err error) { st, err = tx.Alerts([]string{"f", "g"}); return err }); err != nil {
		t.Fatal(err)
	}
	if f := st["f"]; f == nil || !f.Firing || !f.StartsAt.Equal(t0.Add(3*time.Hour)) || f.Thread != root.ID || f.LastNote != notes[2].ID {
		t.Errorf("state of f %+v", f)
	}
	if g := st["g"]; g == nil || g.Firing || g.Thread != "" || !g.EndsAt.Equal(t0.Add(time.Minute)) || g.Name != "IngestStopped" {
		t.Errorf("state of g %+v", g)
	}
}

// TestReceiveAlertsAllOrNothing: when one alert of a notification cannot
// be posted, none of it is, and its state is unchanged.
func TestReceiveAlertsAllOrNothing(t *testing.T) {
	p := writeTemplate(t, `{{define "firing"}}{{if eq .Name "Broken"}}{{index .Labels.nope 3}}{{end}}{{.Name}}{{end}}`)
	at, err := LoadAlertTemplates(p)
	if err != nil {
		t.Fatal(err)
	}
	e := newFarmEnv(t, func(c *Config) { c.AlertTemplates = at })
	broken := firingAlert("b", t0)
	broken.Labels["alertname"] = "Broken"
	if _, err := e.receive(firingAlert("a", t0), broken); err == nil || !strings.Contains(err.Error(), "alert b (Broken)") {
		t.Fatalf("error %v, want one naming alert b", err)
	}
	e.wantNotes(0)
	if res, err := e.receive(firingAlert("a", t0)); err != nil || res.Posts != 1 {
		t.Fatalf("alert a alone: %+v, %v; want one post (nothing of it stored before)", res, err)
	}
}

// alertState returns the stored state of the alert fp.
func (e *env) alertState(fp string) *store.Alert {
	e.t.Helper()
	var st map[string]*store.Alert
	if err := e.db.View(e.ctx, func(tx *store.Tx) (err error) { st, err = tx.Alerts([]string{fp}); return err }); err != nil {
		e.t.Fatal(err)
	}
	return st[fp]
}

// TestReceiveAlertsDeletedRoot: once an alert's thread root is deleted,
// its resolution, and a later firing, start a thread of their own rather
// than answer a post nobody can see.
func TestReceiveAlertsDeletedRoot(t *testing.T) {
	e := newFarmEnv(t)
	deleteOnly := func() string {
		t.Helper()
		notes := e.wantNotes(1)
		if _, err := e.svc.DeleteNote(e.ctx, notes[0].ID); err != nil {
			t.Fatal(err)
		}
		e.wantNotes(0)
		return notes[0].ID
	}
	steps := []struct {
		alert Alert
		start string
	}{
		{resolvedAlert("f", t0, t0.Add(time.Hour)), "Resolved after 1h: IngestStopped"},
		{firingAlert("f", t0.Add(2*time.Hour)), "Firing again: IngestStopped"},
	}
	if res, err := e.receive(firingAlert("f", t0)); err != nil || res.Posts != 1 {
		t.Fatalf("firing: %+v, %v", res, err)
	}
	for i, s := range steps {
		deleted := deleteOnly()
		if res, err := e.receive(s.alert); err != nil || res.Posts != 1 {
			t.Fatalf("step %d: %+v, %v", i, res, err)
		}
		n := e.wantNotes(1)[0]
		if n.InReplyTo != "" || !strings.HasPrefix(n.Source, s.start) {
			t.Errorf("step %d: note %+v, want a root starting %q (the old root %s is deleted)", i, n, s.start, deleted)
		}
		if st := e.alertState("f"); st.Thread != n.ID || st.LastNote != n.ID {
			t.Errorf("step %d: state %+v, want the new root as the thread", i, st)
		}
	}
	// The new thread is the alert's: its resolution answers it.
	root := e.wantNotes(1)[0]
	if _, err := e.receive(resolvedAlert("f", t0.Add(2*time.Hour), t0.Add(3*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if n := e.wantNotes(2)[1]; n.InReplyTo != root.ID {
		t.Errorf("resolution %+v, want a reply to %s", n, root.ID)
	}
}

// TestReceiveAlertsFitsMaxChars: a huge description is cut so that the
// post counts at most MaxChars, and the links stay.
func TestReceiveAlertsFitsMaxChars(t *testing.T) {
	e := newFarmEnv(t, func(c *Config) { c.Format.MaxChars = 500 })
	a := firingAlert("f", t0)
	a.Annotations["description"] = strings.Repeat("disk full ", 10_000) // 100 KB
	a.Annotations["runbook_url"] = "https://wiki.example/ingest"
	if res, err := e.receive(a); err != nil || res.Posts != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	n := e.wantNotes(1)[0]
	if got := richtext.Parse(n.Source).Length(); got > 500 || got < 400 {
		t.Errorf("the post counts %d, want at most 500 and the room used:\n%s", got, n.Source)
	}
	for _, want := range []string{"Firing: IngestStopped (critical)\nThe ingest job stopped\n\ndisk full disk", "…\n\n",
		"Source: http://prometheus.example:9090/graph?g0.expr=up", "Runbook: https://wiki.example/ingest"} {
		if !strings.Contains(n.Source, want) {
			t.Errorf("post lacks %q:\n%s", want, n.Source)
		}
	}
	// A huge summary is cut too, once the description is gone.
	b := firingAlert("g", t0)
	b.Annotations["summary"] = strings.Repeat("s", 100_000)
	if _, err := e.receive(b); err != nil {
		t.Fatal(err)
	}
	n = e.wantNotes(2)[1]
	if got := richtext.Parse(n.Source).Length(); got > 500 || strings.Contains(n.Source, "No run for 1h.") || !strings.Contains(n.Source, "s…") {
		t.Errorf("the post counts %d:\n%s", got, n.Source)
	}
}

// burstOf is n alerts of one rule, RunnerDown (warning), on runners 1 to
// n, made by alert (fingerprints b001...).
func burstOf(n int, alert func(fp string) Alert) []Alert {
	out := make([]Alert, n)
	for i := range out {
		a := alert(fmt.Sprintf("b%03d", i+1))
		a.Labels = map[string]string{"alertname": "RunnerDown", "severity": "warning", "runner": fmt.Sprintf("runner-%d", i+1)}
		a.Annotations = map[string]string{"summary": fmt.Sprintf("CI runner runner-%d is down", i+1)}
		out[i] = a
	}
	return out
}

// TestReceiveAlertsBurst: past the burst threshold, one notification
// makes one post about its alerts, grouped and in natural order, which is
// the thread of those it opens; fewer changes reply in that thread one by
// one, and the burst of their resolutions replies there too.
func TestReceiveAlertsBurst(t *testing.T) {
	e := newFarmEnv(t) // burst threshold 10
	firing := burstOf(30, func(fp string) Alert { return firingAlert(fp, t0) })
	if res, err := e.receive(firing...); err != nil || res.Posts != 1 || res.StateChanges != 0 {
		t.Fatalf("30 firing: %+v, %v; want one post", res, err)
	}
	burst := e.wantNotes(1)[0]
	listed := strings.Count(burst.Source, "\n- CI runner")
	one, two := strings.Index(burst.Source, "runner-1 is down"), strings.Index(burst.Source, "runner-2 is down")
	if burst.InReplyTo != "" || !strings.HasPrefix(burst.Source, "30 alerts firing\n\nFiring: RunnerDown (warning)\n- CI runner runner-1 is down\n") ||
		listed < 3 || strings.Count(burst.Source, "Firing: RunnerDown") != 1 || one < 0 || two < one ||
		!strings.Contains(burst.Source, fmt.Sprintf("And %d more.", 30-listed)) {
		t.Errorf("burst post:\n%s", burst.Source)
	}
	for _, a := range firing {
		if st := e.alertState(a.Fingerprint); st.Thread != burst.ID || st.LastNote != burst.ID || !st.Firing {
			t.Fatalf("%s: state %+v, want the burst post as its thread", a.Fingerprint, st)
		}
	}
	// Two resolve: two replies in the burst's thread.
	resolved := burstOf(30, func(fp string) Alert { return resolvedAlert(fp, t0, t0.Add(time.Hour)) })
	if res, err := e.receive(resolved[:2]...); err != nil || res.Posts != 2 {
		t.Fatalf("2 resolved: %+v, %v", res, err)
	}
	for _, n := range e.wantNotes(3)[1:] {
		if n.InReplyTo != burst.ID || !strings.HasPrefix(n.Source, "Resolved after 1h: RunnerDown") {
			t.Errorf("resolution %+v, want a reply to the burst %s", n, burst.ID)
		}
	}
	// The 28 others at once: one post, in the same thread.
	if res, err := e.receive(resolved...); err != nil || res.Posts != 1 {
		t.Fatalf("28 resolved: %+v, %v", res, err)
	}
	second := e.wantNotes(4)[3]
	if second.InReplyTo != burst.ID || !strings.HasPrefix(second.Source, "28 alerts resolved\n\nResolved: RunnerDown (warning)\n- CI runner runner-3 is down, after 1h\n") {
		t.Errorf("the burst of resolutions, want a reply to %s: %+v", burst.ID, second)
	}
	if st := e.alertState("b030"); st.Thread != burst.ID || st.LastNote != second.ID || st.Firing {
		t.Errorf("b030 after the second burst: %+v", st)
	}
	// Alerts of different threads (new ones, one firing again) at once: a
	// root that says what each did.
	mixed := append(burstOf(12, func(fp string) Alert { return firingAlert("n"+fp, t0.Add(2*time.Hour)) }), firingAlert("b001", t0.Add(3*time.Hour)))
	if res, err := e.receive(mixed...); err != nil || res.Posts != 1 {
		t.Fatalf("mixed: %+v, %v", res, err)
	}
	if third := e.wantNotes(5)[4]; third.InReplyTo != "" || !strings.HasPrefix(third.Source, "13 alerts at once: 12 firing, 1 firing again\n") {
		t.Errorf("the mixed burst, want a root: %+v", third)
	}
}

// TestReceiveAlertsBurstFitsMaxChars: a burst of 1,000 alerts makes one
// post of at most MaxChars that lists what fits and counts the others.
func TestReceiveAlertsBurstFitsMaxChars(t *testing.T) {
	e := newFarmEnv(t, func(c *Config) { c.Format.MaxChars = 500 })
	if res, err := e.receive(burstOf(MaxAlerts, func(fp string) Alert { return firingAlert(fp, t0) })...); err != nil || res.Posts != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	post := e.wantNotes(1)[0].Source
	listed := strings.Count(post, "\n- CI runner")
	if n := utf8.RuneCountInString(post); n > 500 || listed < 3 ||
		!strings.Contains(post, fmt.Sprintf("And %d more.", MaxAlerts-listed)) || !strings.Contains(post, "Dashboard: http://alertmanager.example:9093") {
		t.Errorf("%d characters, %d alerts listed:\n%s", n, listed, post)
	}
}
