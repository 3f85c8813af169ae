// Package measure holds what several benchmark programs share: the plain
// RSA signing loop they compare the server with, the check of a delivery's
// signature with an independent implementation (go-fed/httpsig), and the
// median and list of a run's rounds.
package measure

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gofedsig "github.com/go-fed/httpsig"
)

// SignRate runs rsa.SignPKCS1v15 with key on workers goroutines for d and
// returns the signatures per second: what a delivery costs at least.
func SignRate(key *rsa.PrivateKey, workers int, d time.Duration) float64 {
	var n atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	h := sha256.Sum256([]byte("(request-target): post /users/u1/inbox\nhost: 127.1.0.1:18443\ndate: x\ndigest: y"))
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:]); err != nil {
					panic(err) // a 2048-bit key made by rsa.GenerateKey signs
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(t0).Seconds()
}

// ParsePublicKey reads a PEM public key (PKIX) as the server publishes it.
func ParsePublicKey(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block in the public key")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is a %T, want RSA", k)
	}
	return pub, nil
}

// Verify checks a delivery's Digest and its signature by pub with
// go-fed/httpsig.
func Verify(r *http.Request, body []byte, pub *rsa.PublicKey) error {
	sum := sha256.Sum256(body)
	if r.Header.Get("Digest") != "SHA-256="+base64.StdEncoding.EncodeToString(sum[:]) {
		return errors.New("digest mismatch")
	}
	r.Header.Set("Host", r.Host)
	v, err := gofedsig.NewVerifier(r)
	if err != nil {
		return err
	}
	return v.Verify(pub, gofedsig.RSA_SHA256)
}

// Median is the median of xs.
func Median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// List formats xs with format, comma separated.
func List(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}
