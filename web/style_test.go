package web

import (
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// themeVars reads the colour variables of the stylesheet's light theme
// (the first :root rule) and of its dark one (the :root rule inside
// prefers-color-scheme: dark).
func themeVars(t *testing.T) (light, dark map[string]string) {
	t.Helper()
	css, err := fs.ReadFile(Static(), "style.css")
	if err != nil {
		t.Fatal(err)
	}
	root := regexp.MustCompile(`:root\s*\{([^}]*)\}`)
	rules := root.FindAllStringSubmatchIndex(string(css), -1)
	darkAt := strings.Index(string(css), "prefers-color-scheme: dark")
	if len(rules) != 2 || darkAt < 0 || rules[0][0] > darkAt || rules[1][0] < darkAt {
		t.Fatalf("want a light :root rule, then a dark one in @media (prefers-color-scheme: dark); found %d :root rules", len(rules))
	}
	vars := func(body string) map[string]string {
		out := map[string]string{}
		for _, m := range regexp.MustCompile(`--([a-z]+):\s*(#[0-9a-fA-F]{3,6})`).FindAllStringSubmatch(body, -1) {
			out[m[1]] = m[2]
		}
		return out
	}
	return vars(string(css)[rules[0][2]:rules[0][3]]), vars(string(css)[rules[1][2]:rules[1][3]])
}

// luminance is the relative luminance of a #rgb or #rrggbb colour (WCAG 2).
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	var l float64
	for i, weight := range []float64{0.2126, 0.7152, 0.0722} {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			t.Fatalf("colour %q: %v", hex, err)
		}
		c := float64(v) / 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += weight * c
	}
	return l
}

// contrast is the WCAG contrast ratio of two colours.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

// TestThemesHaveEnoughContrast: in the light and the dark theme, text,
// muted text and links read at WCAG AA (4.5:1) on the page and on cards,
// and so does a button's text on its accent colour; the two themes differ.
func TestThemesHaveEnoughContrast(t *testing.T) {
	light, dark := themeVars(t)
	for name, theme := range map[string]map[string]string{"light": light, "dark": dark} {
		for _, pair := range [][2]string{{"fg", "bg"}, {"fg", "card"}, {"muted", "bg"}, {"muted", "card"}, {"accent", "bg"}, {"accent", "card"}, {"bg", "accent"}} {
			fg, bg := theme[pair[0]], theme[pair[1]]
			if fg == "" || bg == "" {
				t.Fatalf("%s theme: no --%s or --%s", name, pair[0], pair[1])
			}
			if r := contrast(t, fg, bg); r < 4.5 {
				t.Errorf("%s theme: --%s on --%s has contrast %.2f, want at least 4.5", name, pair[0], pair[1], r)
			}
		}
	}
	if light["bg"] == dark["bg"] {
		t.Error("the dark theme has the light background")
	}
}

// TestStylesheetShowsFocus: keyboard focus is visible, and the skip link
// shows when focused.
func TestStylesheetShowsFocus(t *testing.T) {
	css, err := fs.ReadFile(Static(), "style.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{":focus-visible { outline: 3px solid var(--accent)", ".skip:focus { top:"} {
		if !strings.Contains(string(css), rule) {
			t.Errorf("the stylesheet lacks %q", rule)
		}
	}
}

// TestContrastOfKnownColours: the contrast helper agrees with WCAG's
// examples (black on white is 21:1, a colour on itself 1:1).
func TestContrastOfKnownColours(t *testing.T) {
	if r := contrast(t, "#000", "#ffffff"); math.Abs(r-21) > 0.01 {
		t.Errorf("black on white: %.2f", r)
	}
	if r := contrast(t, "#5c677d", "#5c677d"); r != 1 {
		t.Errorf("a colour on itself: %.2f", r)
	}
}
