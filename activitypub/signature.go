package activitypub

// HTTP Signatures (draft-cavage-http-signatures-12), the way the Fediverse
// uses them. go-ap/httpsig builds the signing string and does the RSA maths;
// everything around it is ours, because go-ap on its own rejects hs2019 and
// a missing algorithm, accepts rsa-sha1 and hmac, ignores Digest, has no Date
// window, takes the host from the (possibly rewritten) Host header and the
// path from the decoded URL.Path, and signs with created/expires parameters
// that honk refuses (docs/FEDERATION.md, "HTTP signatures").

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-ap/httpsig"
)

// signatureParams are the parameters of a Signature header.
type signatureParams struct {
	KeyID     string
	Algorithm string   // lower case, "" when the parameter is absent
	Headers   []string // lower case, in signing order
	Signature []byte
	Created   time.Time // zero when absent
	Expires   time.Time // zero when absent
}

// maxSignatureHeader bounds the header we are willing to parse.
const maxSignatureHeader = 8 << 10

// parseSignature parses the value of a Signature header: comma-separated
// name="value" pairs (created and expires may be bare integers). It returns
// an error for syntax errors, repeated parameters, a missing keyId or
// signature, or a signature that is not base64. Unknown parameters are
// ignored. Without a headers parameter the signed headers default to
// "(created)" as the draft says.
func parseSignature(header string) (*signatureParams, error) {
	if header == "" {
		return nil, errors.New("no Signature header")
	}
	if len(header) > maxSignatureHeader {
		return nil, errors.New("the Signature header is too long")
	}
	p := &signatureParams{}
	seen := map[string]bool{}
	s := header
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		i := strings.IndexByte(s, '=')
		if i <= 0 {
			return nil, fmt.Errorf("malformed Signature parameter %q", truncate(s, 40))
		}
		name := strings.ToLower(strings.TrimSpace(s[:i]))
		if !isToken(name) {
			return nil, fmt.Errorf("malformed Signature parameter name %q", truncate(name, 40))
		}
		s = strings.TrimLeft(s[i+1:], " \t")
		var value string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated value for Signature parameter %q", name)
			}
			value, s = s[1:1+end], s[2+end:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			value, s = strings.TrimSpace(s[:end]), s[end:]
		}
		s = strings.TrimLeft(s, " \t")
		if s != "" && s[0] != ',' {
			return nil, fmt.Errorf("malformed Signature header after parameter %q", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("repeated Signature parameter %q", name)
		}
		seen[name] = true
		switch name {
		case "keyid":
			p.KeyID = value
		case "algorithm":
			p.Algorithm = strings.ToLower(value)
		case "headers":
			p.Headers = strings.Fields(strings.ToLower(value))
		case "signature":
			sig, err := base64.StdEncoding.DecodeString(value)
			if err != nil {
				return nil, errors.New("signature is not valid base64")
			}
			p.Signature = sig
		case "created", "expires":
			n, err := strconv.ParseInt(strings.SplitN(value, ".", 2)[0], 10, 64)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("the Signature parameter %s is not a Unix time", name)
			}
			if name == "created" {
				p.Created = time.Unix(n, 0)
			} else {
				p.Expires = time.Unix(n, 0)
			}
		}
	}
	if p.KeyID == "" {
		return nil, errors.New("the Signature header has no keyId")
	}
	if len(p.Signature) == 0 {
		return nil, errors.New("the Signature header has no signature value")
	}
	if !seen["headers"] {
		p.Headers = []string{"(created)"}
	}
	if len(p.Headers) == 0 {
		return nil, errors.New("the Signature header signs no headers")
	}
	return p, nil
}

func isToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// signingString rebuilds the string that was signed, through go-ap's
// BuildSignatureData, for a request to requestURI (path and query exactly as
// sent, still percent-encoded) on host. A header listed in headers must be
// present in header, except content-length, which is synthesised from
// bodyLen when a proxy dropped it (docs/FEDERATION.md, "Behind a proxy"). Repeated header fields are
// joined with ", " as the draft requires.
func signingString(method, requestURI, host string, header http.Header, headers []string, p *signatureParams, bodyLen int) ([]byte, error) {
	path, query, _ := strings.Cut(requestURI, "?")
	if path == "" {
		path = "/"
	}
	synth := make(http.Header, len(headers))
	var created, expires time.Time
	for _, h := range headers {
		switch h {
		case "(request-target)", "host":
		case "(created)":
			if p == nil || p.Created.IsZero() {
				return nil, errors.New("(created) is signed but the created parameter is missing")
			}
			created = p.Created
		case "(expires)":
			if p == nil || p.Expires.IsZero() {
				return nil, errors.New("(expires) is signed but the expires parameter is missing")
			}
			expires = p.Expires
		default:
			if strings.HasPrefix(h, "(") {
				return nil, fmt.Errorf("unknown pseudo-header %s", h)
			}
			values := header.Values(h)
			if len(values) == 0 && h == "content-length" && bodyLen >= 0 {
				values = []string{strconv.Itoa(bodyLen)}
			}
			if len(values) == 0 {
				return nil, fmt.Errorf("signed header %q is missing", h)
			}
			for i := range values {
				values[i] = strings.TrimSpace(values[i])
			}
			synth.Set(h, strings.Join(values, ", "))
		}
	}
	// go-ap reads the target from URL.Path and RawQuery verbatim and the host
	// from req.Host, so hand it the raw path and the configured host.
	req := &http.Request{
		Method: method,
		Host:   host,
		URL:    &url.URL{Path: path, RawQuery: query},
		Header: synth,
	}
	return httpsig.BuildSignatureData(req, headers, created, expires)
}

// digestHeader returns the Digest header value for body: "SHA-256=" and the
// base64 of its SHA-256, the one form every peer accepts (docs/FEDERATION.md, "HTTP signatures").
func digestHeader(body []byte) string {
	sum := sha256.Sum256(body)
	return "SHA-256=" + base64.StdEncoding.EncodeToString(sum[:])
}

// checkDigest verifies a Digest header (comma-separated alg=base64 pairs)
// against body. A SHA-256 entry must be present and match.
func checkDigest(header string, body []byte) error {
	if header == "" {
		return errors.New("no Digest header")
	}
	sum := sha256.Sum256(body)
	for _, part := range strings.Split(header, ",") {
		alg, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(alg, "sha-256") {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
		if err != nil {
			return errors.New("the Digest SHA-256 value is not base64")
		}
		if subtle.ConstantTimeCompare(got, sum[:]) != 1 {
			return errors.New("the Digest does not match the body")
		}
		return nil
	}
	return errors.New("the Digest header has no SHA-256 value")
}

// signRequest signs an outgoing request the way Mastodon does (docs/FEDERATION.md, "HTTP signatures"):
// Date and (for a body) Digest are set first, then exactly four parameters:
// keyId, algorithm="rsa-sha256", headers="(request-target) host date
// [digest]" and signature. No created/expires (honk rejects them). Call it
// immediately before every send, retries included.
func signRequest(req *http.Request, body []byte, keyID string, key *rsa.PrivateKey, now time.Time) error {
	req.Host = req.URL.Host
	req.Header.Set("Date", now.UTC().Format(http.TimeFormat))
	headers := []string{"(request-target)", "host", "date"}
	if body != nil {
		req.Header.Set("Digest", digestHeader(body))
		headers = append(headers, "digest")
	}
	data, err := signingString(req.Method, req.URL.RequestURI(), req.Host, req.Header, headers, nil, -1)
	if err != nil {
		return err
	}
	sig, err := httpsig.RSASign(key, crypto.SHA256, data)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	req.Header.Set("Signature", fmt.Sprintf(`keyId="%s",algorithm="rsa-sha256",headers="%s",signature="%s"`,
		keyID, strings.Join(headers, " "), base64.StdEncoding.EncodeToString(sig)))
	return nil
}

// Inbound signature policy (docs/FEDERATION.md, "HTTP signatures").
const (
	maxDateFuture = time.Hour                 // a Date later than now+1h is refused
	maxDatePast   = time.Hour + 5*time.Minute // an hour, plus a few minutes as Mastodon allows
	clockSkew     = 5 * time.Minute           // slack on created/expires
)

// InboundRequest is what the inbox needs of an HTTP request: the method, the
// raw request URI exactly as received (r.RequestURI), the headers and the
// whole body, and the client's address (behind a trusted proxy, the one it
// names; "" when unknown, as in tests that call the inbox directly).
type InboundRequest struct {
	Method     string
	RequestURI string
	Header     http.Header
	Body       []byte
	ClientAddr string
}

// precheckSignature applies every rule that needs no key: the header parses,
// the algorithm is RSA-SHA256 in one of its spellings, the required
// components are signed, Date or created/expires are inside the window and
// the Digest matches the body. It returns the parameters and the candidate
// signing strings, rebuilt with host (the configured public host): with the
// query first, then without it (docs/FEDERATION.md, "HTTP signatures").
func precheckSignature(req InboundRequest, host string, now time.Time) (*signatureParams, [][]byte, error) {
	if req.Header.Get("Signature-Input") != "" {
		return nil, nil, errors.New("RFC 9421 signatures are not supported; sign with draft-cavage")
	}
	p, err := parseSignature(req.Header.Get("Signature"))
	if err != nil {
		return nil, nil, err
	}
	switch p.Algorithm {
	case "", "rsa-sha256", "hs2019": // hs2019 and no algorithm mean RSA-SHA256 for an RSA key
	default:
		return nil, nil, fmt.Errorf("algorithm %q is not accepted (use rsa-sha256 or hs2019)", p.Algorithm)
	}
	signed := map[string]bool{}
	for _, h := range p.Headers {
		signed[h] = true
	}
	for _, h := range []string{"(request-target)", "host", "digest"} {
		if !signed[h] {
			return nil, nil, fmt.Errorf("the signature must cover %s", h)
		}
	}
	if !signed["date"] && !signed["(created)"] {
		return nil, nil, errors.New("the signature must cover date or (created)")
	}
	if signed["date"] {
		date, err := http.ParseTime(req.Header.Get("Date"))
		if err != nil {
			return nil, nil, errors.New("the Date header is missing or malformed")
		}
		if date.After(now.Add(maxDateFuture)) {
			return nil, nil, fmt.Errorf("the Date %s is more than an hour in the future", req.Header.Get("Date"))
		}
		if now.Sub(date) > maxDatePast {
			return nil, nil, fmt.Errorf("the Date %s is more than an hour old", req.Header.Get("Date"))
		}
	}
	if !p.Created.IsZero() && p.Created.After(now.Add(clockSkew)) {
		return nil, nil, errors.New("signature created in the future")
	}
	if !p.Created.IsZero() && now.Sub(p.Created) > maxDatePast {
		return nil, nil, errors.New("signature created more than an hour ago")
	}
	if !p.Expires.IsZero() && now.After(p.Expires.Add(clockSkew)) {
		return nil, nil, errors.New("signature has expired")
	}
	if err := checkDigest(req.Header.Get("Digest"), req.Body); err != nil {
		return nil, nil, err
	}

	target := req.RequestURI
	if u, err := url.ParseRequestURI(target); err == nil && u.IsAbs() { // absolute-form, as sent to a proxy
		target = u.RequestURI()
	}
	var candidates [][]byte
	for i, uri := range []string{target, strings.SplitN(target, "?", 2)[0]} {
		if i == 1 && uri == target {
			break
		}
		data, err := signingString(req.Method, uri, host, req.Header, p.Headers, p, len(req.Body))
		if err != nil {
			return nil, nil, err
		}
		candidates = append(candidates, data)
	}
	return p, candidates, nil
}

// verifyCandidates checks sig against any of the candidate signing strings.
func verifyCandidates(pub *rsa.PublicKey, candidates [][]byte, sig []byte) error {
	var err error
	for _, data := range candidates {
		if err = httpsig.RSAVerify(pub, crypto.SHA256, data, sig); err == nil {
			return nil
		}
	}
	return err
}
