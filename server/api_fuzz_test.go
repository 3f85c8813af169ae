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
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/statuses", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		if _, err := parseStatusRequest(r); !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), "reading the ") {
			t.Errorf("%s %q: %v", ctype, body, err)
		}
	}
}
