package mastodon

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"testing"

	"github.com/nuttx-feed/nuttx-feed/internal/mastodon/mastodontest"
)

// checkSigns checks privatePEM is a PKCS#8 RSA key whose signatures verify
// with the SPKI public key publicPEM.
func checkSigns(t *testing.T, privatePEM, publicPEM string) {
	t.Helper()
	block, _ := pem.Decode([]byte(privatePEM))
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("private key is not PKCS#8 PEM: %.40q", privatePEM)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("(request-target): post /users/bob/inbox"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	pub, err := parsePublicKey(publicPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("a signature of the imported key does not verify with the public key: %v", err)
	}
}

// sameDER checks two PEM texts hold the same bytes.
func sameDER(t *testing.T, got, want string) {
	t.Helper()
	g, _ := pem.Decode([]byte(got))
	w, _ := pem.Decode([]byte(want))
	if g == nil || w == nil || g.Type != w.Type || string(g.Bytes) != string(w.Bytes) {
		t.Errorf("got PEM\n%s\nwant\n%s", got, want)
	}
}

func TestKeyPair(t *testing.T) {
	key := mastodontest.NewKeyPair(t)
	other := mastodontest.NewKeyPair(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key.Key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8PEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))

	t.Run("PKCS#1 and PKCS#8 become PKCS#8 and SPKI", func(t *testing.T) {
		for _, private := range []string{key.PrivatePEM, pkcs8PEM} {
			a := Account{Username: "nuttx_build", PrivateKeyPEM: private, PublicKeyPEM: key.PublicPEM}
			priv, pub, err := a.KeyPair()
			if err != nil {
				t.Fatal(err)
			}
			sameDER(t, priv, pkcs8PEM)
			sameDER(t, pub, key.PublicPEM)
			checkSigns(t, priv, key.PublicPEM)
		}
	})

	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub, err := x509.MarshalPKIXPublicKey(edKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	broken := *key.Key // a private exponent that does not go with the rest
	broken.D = new(big.Int).Add(key.Key.D, big.NewInt(2))
	for _, tc := range []struct {
		name, private, public, says string
	}{
		{"halves of two keys", key.PrivatePEM, other.PublicPEM, "does not match"},
		{"private key not PEM", "MIIEowIBAAKCAQEA", key.PublicPEM, "private key of @nuttx_build: not PEM"},
		{"private key garbage", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("junk")})), key.PublicPEM,
			"neither PKCS#1 nor PKCS#8"},
		{"private key not RSA", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER})), key.PublicPEM, "not an RSA key"},
		{"private key unsound", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(&broken)})),
			key.PublicPEM, "neither PKCS#1 nor PKCS#8"},
		{"public key empty", key.PrivatePEM, "", "public key of @nuttx_build: not PEM"},
		{"public key not RSA", key.PrivatePEM, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edPub})), "not an RSA key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Account{Username: "nuttx_build", PrivateKeyPEM: tc.private, PublicKeyPEM: tc.public}
			priv, pub, err := a.KeyPair()
			checkErr(t, err, ErrBadKey, []string{tc.says}, nil)
			if priv != "" || pub != "" {
				t.Errorf("returned keys with the error")
			}
		})
	}
}
