package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// FuzzParseStatusRequest: any body of any of the three content types
// gives a checked request or an error that says 400 or 422, never a
// panic, and a request it takes has a status to post.
func FuzzParseStatusRequest(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "status=hi&visibility=unlisted&sensitive=false")
	f.Add("application/json", `{"status":"hi","in_reply_to_id":12,"sensitive":false,"media_ids":["1"],"poll":null}`)
	f.Add("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"status\"\r\n\r\nhi\r\n--b--\r\n")
	f.Add("application/json", `{"status":`)
	f.Add("multipart/form-data; boundary=b", "garbage")
	f.Fuzz(func(t *testing.T, ctype, body string) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/statuses", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		req, err := parseStatusRequest(r)
		switch {
		case err == nil:
			if strings.TrimSpace(req.Status) == "" || req.Sensitive || req.SpoilerText != "" {
				t.Errorf("took %+v", req)
			}
		case !errors.Is(err, errMalformed) && !errors.Is(err, errUnprocessable):
			t.Errorf("error neither 400 nor 422: %v", err)
		case strings.Contains(err.Error(), "\n"):
			t.Errorf("error of more than one line: %q", err)
		}
	})
}

// TestParseStatusRequestMalformed: bodies that cannot be read are 400s
// that say which part failed.
func TestParseStatusRequestMalformed(t *testing.T) {
	t.Parallel()
	for ctype, body := range map[string]string{
		"multipart/form-data; boundary=b": "garbage",
		"application/json":                `["status"]`,
		"application/json; charset=utf-8": `{"status":"\x"}`,
		"application/json; charset=UTF-8": `{"status":"x"} {"status":"y"}`,
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/statuses", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		if _, err := parseStatusRequest(r); !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), "reading the ") {
			t.Errorf("%s %q: %v", ctype, body, err)
		}
	}
}

// TestParseStatusRequestRefusesWhatItCannotRead: a text field sent as a
// JSON list or object, and text that is not UTF-8, are 422s that name the
// problem, not a status posted with the field dropped or read as JSON.
func TestParseStatusRequestRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ ctype, body, want string }{
		{"application/json", `{"status":["hi"]}`, "status must be a string"},
		{"application/json", `{"status":"hi","spoiler_text":["nsfw"]}`, "spoiler_text must be a string"},
		{"application/json", `{"status":"hi","in_reply_to_id":{}}`, "in_reply_to_id must be a string"},
		{"application/json", `{"status":"hi","visibility":["direct"]}`, "visibility must be a string"},
		{"application/x-www-form-urlencoded", "status=%FF%FE", "Text is not valid UTF-8"},
		{"application/x-www-form-urlencoded", "status=hi&spoiler_text=%C3", "Text is not valid UTF-8"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/statuses", strings.NewReader(c.body))
		r.Header.Set("Content-Type", c.ctype)
		req, err := parseStatusRequest(r)
		if !errors.Is(err, errUnprocessable) || !strings.HasSuffix(err.Error(), ": "+c.want) {
			t.Errorf("%q: %+v, %v; want 422 %q", c.body, req, err, c.want)
		}
	}
	for body, want := range map[string]string{
		`{"status":"x"} xxx`: "data after the object",
		`["status"]`:         "it is array, not an object",
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/statuses", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if _, err := parseStatusRequest(r); !errors.Is(err, errMalformed) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%q: %v; want 400 ...%q", body, err, want)
		}
	}
}

// FuzzAppRequest: any registration form (POST /api/v1/apps, which anyone
// may call) gives an app within the bounds, or a one-line error; never a
// panic, an app without a name or redirect URI, or a redirect URI with a
// scheme that runs code in a browser.
func FuzzAppRequest(f *testing.F) {
	f.Add("client_name=Tusky&redirect_uris=oauth2redirect%3A%2F%2Fcom.keylesspalace.tusky%2F&scopes=read+write+push&website=https%3A%2F%2Ftusky.app")
	f.Add("client_name=x&redirect_uris=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob")
	f.Add("client_name=x&redirect_uris=javascript%3Aalert(1)")
	f.Add("client_name=x&redirect_uris=https%3A%2F%2Fa%2F%23frag&scopes=admin%3Aread")
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/apps", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		fields, err := requestFields(r)
		if err != nil {
			return
		}
		app, err := appRequest(fields)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of more than one line: %q", err)
			}
			return
		}
		if strings.TrimSpace(app.Name) == "" || utf8.RuneCountInString(app.Name) > maxAppName ||
			len(app.RedirectURIs) == 0 || len(app.RedirectURIs) > maxRedirectURIs || app.Scopes == "" {
			t.Errorf("took %+v", app)
		}
		for _, u := range app.RedirectURIs {
			if s, _, _ := strings.Cut(strings.ToLower(u), ":"); s == "javascript" || s == "data" || strings.Contains(u, "#") {
				t.Errorf("took the redirect URI %q", u)
			}
		}
	})
}

// FuzzAPIList: any query string of a list (limit, max_id, since_id,
// min_id, filters) gives a limit between 1 and the most, and cursors that
// resolve or a 400; never a panic.
func FuzzAPIList(f *testing.F) {
	f.Add("limit=20&max_id=123&local=true")
	f.Add("limit=-9223372036854775808&since_id=abc")
	f.Add("limit=1e20&min_id=%00")
	f.Fuzz(func(t *testing.T, query string) {
		e := echo.New()
		r := httptest.NewRequest(http.MethodGet, "/api/v1/timelines/public", nil)
		r.URL.RawQuery = query
		c := e.NewContext(r, httptest.NewRecorder())
		q := apiList(c, 20, 40, "local")
		if q.limit < 1 || q.limit > 40 {
			t.Errorf("limit %d of %q", q.limit, query)
		}
		p, err := q.page(apiNumber)
		if err != nil && !errors.Is(err, errMalformed) {
			t.Errorf("error not a 400: %v", err)
		}
		if err == nil && (p.MaxID < 0 || p.SinceID < 0 || p.MinID < 0) {
			t.Errorf("negative cursor %+v of %q", p, query)
		}
	})
}
