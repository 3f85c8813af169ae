package mastodon

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// KeyPair checks the account's key pair and returns it as nuttx-feed
// stores it: the private key PKCS#8 PEM, the public key SPKI (PKIX) PEM.
// It reads the private key as PKCS#1 (what Mastodon writes) or PKCS#8, and
// refuses a private key that does not match the public key followers have.
func (a *Account) KeyPair() (privateKeyPEM, publicKeyPEM string, err error) {
	key, err := parsePrivateKey(a.PrivateKeyPEM)
	if err != nil {
		return "", "", fmt.Errorf("%w: private key of @%s: %v", ErrBadKey, a.Username, err)
	}
	pub, err := parsePublicKey(a.PublicKeyPEM)
	if err != nil {
		return "", "", fmt.Errorf("%w: public key of @%s: %v", ErrBadKey, a.Username, err)
	}
	if !key.PublicKey.Equal(pub) {
		return "", "", fmt.Errorf("%w: the private key of @%s does not match its public key", ErrBadKey, a.Username)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("%w: private key of @%s: %v", ErrBadKey, a.Username, err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", "", fmt.Errorf("%w: public key of @%s: %v", ErrBadKey, a.Username, err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})), nil
}

// parsePrivateKey reads an RSA private key from PKCS#1 or PKCS#8 PEM (the
// parsers check the key is sound).
func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	der, err := decodePEM(s)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		k, err8 := x509.ParsePKCS8PrivateKey(der)
		if err8 != nil {
			return nil, errors.New("neither PKCS#1 nor PKCS#8")
		}
		var ok bool
		if key, ok = k.(*rsa.PrivateKey); !ok {
			return nil, fmt.Errorf("not an RSA key (%T)", k)
		}
	}
	return key, nil
}

// parsePublicKey reads an RSA public key from SPKI PEM, as Mastodon
// stores it.
func parsePublicKey(s string) (*rsa.PublicKey, error) {
	der, err := decodePEM(s)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("not an RSA key (%T)", k)
	}
	return pub, nil
}

// decodePEM returns the bytes of the first PEM block of s.
func decodePEM(s string) ([]byte, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("not PEM")
	}
	return block.Bytes, nil
}
