package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
