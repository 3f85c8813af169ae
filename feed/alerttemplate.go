package feed

import (
	_ "embed"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/nuttx-feed/nuttx-feed/internal/richtext"
)

// The texts of the alert posts: Go templates, the defaults in alerts.tmpl,
// any of them replaced by --alert-template.

//go:embed alerts.tmpl
var defaultAlertTemplates string

// The templates each post uses.
const (
	tmplFiring   = "firing"   // an alert fires for the first time: the thread's root
	tmplRefiring = "refiring" // it fires again after resolving: a reply
	tmplResolved = "resolved" // it resolved: a reply
)

var alertTemplateNames = []string{tmplFiring, tmplRefiring, tmplResolved, tmplBurst}

// AlertTemplates are the parsed texts of the alert posts.
type AlertTemplates struct{ t *template.Template }

// DefaultAlertTemplates returns the built-in texts.
func DefaultAlertTemplates() *AlertTemplates {
	t, err := LoadAlertTemplates("")
	if err != nil {
		panic("feed/alerts.tmpl: " + err.Error())
	}
	return t
}

// LoadAlertTemplates parses the built-in texts, then file (when not "")
// over them: a {{define "firing"}}, "refiring" or "resolved" in file
// replaces that text. Each text is tried on a sample alert, so a mistake
// shows now, with the file and line, rather than at the first alert.
func LoadAlertTemplates(file string) (*AlertTemplates, error) {
	t := template.Must(template.New("alerts.tmpl").Option("missingkey=zero").
		Funcs(template.FuncMap{"labelsWithout": labelsWithout, "labelText": labelText}).Parse(defaultAlertTemplates))
	if file != "" {
		text, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("alert template: %w", err)
		}
		if _, err := t.New(file).Parse(string(text)); err != nil {
			return nil, fmt.Errorf("alert template: %w", err)
		}
		if !definesAny(t, file) {
			return nil, fmt.Errorf("alert template %s: defines none of %s", file, strings.Join(alertTemplateNames, ", "))
		}
		if unused := unusedDefines(t, file); len(unused) > 0 {
			return nil, fmt.Errorf("alert template %s: defines %q, which none of %s uses (a misspelling?)",
				file, unused, strings.Join(alertTemplateNames, ", "))
		}
	}
	at := &AlertTemplates{t: t}
	for _, name := range alertTemplateNames {
		var sample any = sampleAlertView()
		if name == tmplBurst {
			sample = sampleBurstView()
		}
		if _, err := at.render(name, sample); err != nil {
			return nil, err
		}
	}
	return at, nil
}

// definesAny tells whether file defined one of the post templates.
func definesAny(t *template.Template, file string) bool {
	for _, name := range alertTemplateNames {
		if tree := t.Lookup(name).Tree; tree != nil && tree.ParseName == file {
			return true
		}
	}
	return false
}

// unusedDefines returns, sorted, the templates file defined that no post
// template uses, directly or through others: a misspelled name, which
// would be ignored.
func unusedDefines(t *template.Template, file string) []string {
	used := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		if tt := t.Lookup(name); !used[name] && tt != nil && tt.Tree != nil {
			used[name] = true
			walkTemplateCalls(tt.Tree.Root, visit)
		}
	}
	for _, name := range alertTemplateNames {
		visit(name)
	}
	var unused []string
	for _, tt := range t.Templates() {
		if tt.Tree != nil && tt.Tree.ParseName == file && tt.Name() != file && !used[tt.Name()] {
			unused = append(unused, tt.Name())
		}
	}
	sort.Strings(unused)
	return unused
}

// walkTemplateCalls calls visit with the name of each {{template}} in
// node and the nodes under it.
func walkTemplateCalls(node parse.Node, visit func(string)) {
	var branch *parse.BranchNode
	switch n := node.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				walkTemplateCalls(c, visit)
			}
		}
	case *parse.TemplateNode:
		visit(n.Name)
	case *parse.IfNode:
		branch = &n.BranchNode
	case *parse.RangeNode:
		branch = &n.BranchNode
	case *parse.WithNode:
		branch = &n.BranchNode
	}
	if branch != nil {
		walkTemplateCalls(branch.List, visit)
		walkTemplateCalls(branch.ElseList, visit)
	}
}

// render runs the template name on v (an alertView, a burstView for
// the burst); a blank text is an error.
func (at *AlertTemplates) render(name string, v any) (string, error) {
	var b strings.Builder
	if err := at.t.ExecuteTemplate(&b, name, v); err != nil {
		return "", fmt.Errorf("alert template: %w", err)
	}
	text := strings.TrimSpace(b.String())
	if text == "" {
		return "", fmt.Errorf("alert template %q: the text is blank", name)
	}
	return text, nil
}

// content renders the text name of v as a post that counts at most
// fm.MaxChars (Formatter.fit): the description is cut first, then, when
// that is not enough, the summary; the links and the rest stay whole.
func (at *AlertTemplates) content(name string, v alertView, fm Formatter) (*richtext.Content, error) {
	var firstErr error
	compose := func(field, key string) func(string) *richtext.Content {
		return func(text string) *richtext.Content {
			out, err := at.render(name, v.with(field, key, text))
			if err != nil && firstErr == nil {
				firstErr = err
			}
			return richtext.Parse(out)
		}
	}
	c := fm.fit(compose("Description", "description"), v.Description)
	if fm.MaxChars > 0 && c.Length() > fm.MaxChars {
		v = v.with("Description", "description", "")
		c = fm.fit(compose("Summary", "summary"), v.Summary)
	}
	return c, firstErr
}

// with returns v with the annotation key (shown as the field Summary or
// Description) set to text.
func (v alertView) with(field, key, text string) alertView {
	ann := make(map[string]string, len(v.Annotations)+1)
	for k, val := range v.Annotations {
		ann[k] = val
	}
	ann[key], v.Annotations = text, ann
	if field == "Summary" {
		v.Summary = text
	} else {
		v.Description = text
	}
	return v
}

// alertView is what the templates see of an alert.
type alertView struct {
	Status       string      // firing or resolved
	Name         string      // the alertname label
	Severity     string      // the severity label
	Summary      string      // the summary annotation
	Description  string      // the description annotation
	OtherLabels  []labelPair // the labels but hiddenLabels
	Labels       map[string]string
	Annotations  map[string]string
	GeneratorURL string
	DashboardURL string // the dashboard annotation, else Alertmanager's page
	RunbookURL   string // the runbook_url annotation
	StartsAt     time.Time
	EndsAt       time.Time // zero while firing
	Duration     string    // EndsAt - StartsAt, human readable, when resolved
	Receiver     string
}

// labelPair is a label, for the templates.
type labelPair struct{ Name, Value string }

// viewOf returns what the templates see of a of n.
func viewOf(n AlertNotification, a Alert) alertView {
	v := alertView{
		Status: a.Status, Name: a.Name(), Severity: a.Labels["severity"],
		Summary: a.Annotations["summary"], Description: a.Annotations["description"],
		Labels: a.Labels, Annotations: a.Annotations, GeneratorURL: a.GeneratorURL,
		DashboardURL: a.Annotations["dashboard"], RunbookURL: a.Annotations["runbook_url"],
		StartsAt: a.StartsAt, EndsAt: a.EndsAt, Receiver: n.Receiver,
	}
	if v.Name == "" {
		v.Name = "alert " + a.Fingerprint
	}
	if v.DashboardURL == "" {
		v.DashboardURL = n.ExternalURL
	}
	if !a.EndsAt.IsZero() {
		v.Duration = humanDuration(a.EndsAt.Sub(a.StartsAt))
	}
	v.OtherLabels = labelsWithout(a.Labels, hiddenLabels...)
	return v
}

// hiddenLabels are the labels .OtherLabels leaves out: the name and
// severity, shown already, the ones that name internal hosts and jobs, of
// no use to the public, and publish, the label docs/deploy.md routes the
// public alerts with.
var hiddenLabels = []string{"alertname", "severity", "instance", "job", "prometheus", "publish"}

// labelsWithout returns the labels but the named ones, sorted by name;
// the templates call it as labelsWithout .Labels "name"...
func labelsWithout(labels map[string]string, names ...string) []labelPair {
	var out []labelPair
	for k, val := range labels {
		if !slices.Contains(names, k) {
			out = append(out, labelPair{k, val})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sampleAlertView is the alert LoadAlertTemplates tries the texts on.
func sampleAlertView() alertView {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return viewOf(AlertNotification{ExternalURL: "http://alertmanager.example:9093"}, Alert{
		Status: AlertResolved, Fingerprint: "0123456789abcdef",
		Labels:       map[string]string{"alertname": "IngestStopped", "severity": "critical", "job": "ingest"},
		Annotations:  map[string]string{"summary": "The ingest job stopped", "description": "No run for 1h."},
		GeneratorURL: "http://prometheus.example:9090/graph", StartsAt: start, EndsAt: start.Add(90 * time.Minute),
	})
}

// sampleBurstView is a burst of three alerts, to try the burst template
// on.
func sampleBurstView() burstView {
	resolved := sampleAlertView()
	firing := resolved
	firing.Status, firing.EndsAt, firing.Duration = AlertFiring, time.Time{}, ""
	return burstView{Total: 4, Firing: 2, Resolved: 2, Changes: "2 firing, 2 resolved", More: 1, Receiver: "nuttx-feed", DashboardURL: resolved.DashboardURL,
		Groups: []burstGroup{
			{Change: changeFiring, Name: firing.Name, Severity: firing.Severity, Alerts: []alertView{firing, firing}},
			{Change: changeResolved, Name: resolved.Name, Severity: resolved.Severity, Alerts: []alertView{resolved}},
		}}
}

// humanDuration writes d in its two largest units: 45s, 3m 20s, 2h 5m,
// 3d 4h; a unit that is zero is left out.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Second {
		return "0s"
	}
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	var parts []string
	for i, u := range units {
		if d < u.size {
			continue
		}
		parts = append(parts, fmt.Sprintf("%d%s", d/u.size, u.name))
		if i+1 < len(units) {
			if rest := d % u.size / units[i+1].size; rest > 0 {
				parts = append(parts, fmt.Sprintf("%d%s", rest, units[i+1].name))
			}
		}
		break
	}
	return strings.Join(parts, " ")
}
