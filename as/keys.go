package as

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/ddls/mcpauth/as/store"
)

// Supported access-token signing algorithms (SPEC "Access tokens": ES256 default, EdDSA and RS256 selectable).
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
)

// ParseKEK decodes a key-encryption key: 32 bytes, base64 (standard or URL alphabet, padding optional).
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("key-encryption key must be 32 bytes, got %d", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("key-encryption key is not valid base64")
}

// signingKey is a loaded key: the private part for signing, the public JWK for JWKS and verification.
type signingKey struct {
	kid      string
	alg      jwa.SignatureAlgorithm
	algName  string
	signer   crypto.Signer
	public   crypto.PublicKey
	jwk      jwk.Key
	created  time.Time
	activeAt time.Time
}

// keyRing loads signing keys from the store and picks the one that signs. Keys are published from
// creation and sign from ActiveAt, so resource servers see a key before the first token it signed
// (SPEC "Keys"); a key stays published for retain after its successor took over, which must exceed the
// longest access-token lifetime.
type keyRing struct {
	st      store.Store
	kek     []byte
	alg     string
	retain  time.Duration
	reload  time.Duration
	now     func() time.Time
	mu      sync.RWMutex
	keys    []*signingKey // oldest first
	byKID   map[string]*signingKey
	jwks    []byte
	loaded  time.Time
	loading sync.Mutex
}

func newKeyRing(st store.Store, kek []byte, alg string, retain time.Duration, now func() time.Time) (*keyRing, error) {
	if len(kek) != 32 {
		return nil, errors.New("as: key-encryption key must be 32 bytes")
	}
	switch alg {
	case "":
		alg = AlgES256
	case AlgES256, AlgEdDSA, AlgRS256:
	default:
		return nil, fmt.Errorf("as: unsupported signing algorithm %q", alg)
	}
	return &keyRing{st: st, kek: kek, alg: alg, retain: retain, reload: 30 * time.Second, now: now}, nil
}

// ensure loads the keys and creates the first one if the store has none.
func (k *keyRing) ensure(ctx context.Context) error {
	if err := k.load(ctx); err != nil {
		return err
	}
	k.mu.RLock()
	n := len(k.keys)
	k.mu.RUnlock()
	if n > 0 {
		return nil
	}
	// The first key signs at once: no token signed by any other key exists yet.
	if _, err := k.add(ctx, 0); err != nil {
		return err
	}
	return k.load(ctx)
}

// rotate adds a key that starts signing after lead; until then it is only published.
func (k *keyRing) rotate(ctx context.Context, lead time.Duration) (string, error) {
	kid, err := k.add(ctx, lead)
	if err != nil {
		return "", err
	}
	return kid, k.load(ctx)
}

func (k *keyRing) add(ctx context.Context, lead time.Duration) (string, error) {
	var priv crypto.Signer
	var err error
	switch k.alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	}
	if err != nil {
		return "", fmt.Errorf("as: generate key: %w", err)
	}
	pub, err := jwk.Import(priv.Public())
	if err != nil {
		return "", fmt.Errorf("as: import key: %w", err)
	}
	// RFC 7638 thumbprint as kid: stable, unique, derived from the key itself.
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	_ = pub.Set(jwk.KeyIDKey, kid)
	_ = pub.Set(jwk.KeyUsageKey, "sig")
	_ = pub.Set(jwk.AlgorithmKey, k.alg)
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	sealed, err := seal(k.kek, der, []byte(kid))
	if err != nil {
		return "", err
	}
	now := k.now().UTC()
	err = k.st.CreateSigningKey(ctx, store.SigningKey{
		KID: kid, Alg: k.alg, PublicJWK: pubJSON, PrivateSealed: sealed, CreatedAt: now, ActiveAt: now.Add(lead),
	})
	if err != nil {
		return "", fmt.Errorf("as: store key: %w", err)
	}
	return kid, nil
}

// load reads every key from the store and rebuilds the ring and the published JWKS.
func (k *keyRing) load(ctx context.Context) error {
	k.loading.Lock()
	defer k.loading.Unlock()
	recs, err := k.st.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("as: load keys: %w", err)
	}
	now := k.now()
	keys := make([]*signingKey, 0, len(recs))
	byKID := make(map[string]*signingKey, len(recs))
	for _, r := range recs {
		der, err := open(k.kek, r.PrivateSealed, []byte(r.KID))
		if err != nil {
			return fmt.Errorf("as: key %s cannot be opened with this key-encryption key: %w", r.KID, err)
		}
		raw, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("as: key %s: %w", r.KID, err)
		}
		signer, ok := raw.(crypto.Signer)
		if !ok {
			return fmt.Errorf("as: key %s is not a signing key", r.KID)
		}
		pub, err := jwk.ParseKey(r.PublicJWK)
		if err != nil {
			return fmt.Errorf("as: key %s: %w", r.KID, err)
		}
		alg, ok := jwa.LookupSignatureAlgorithm(r.Alg)
		if !ok {
			return fmt.Errorf("as: key %s: unknown algorithm %q", r.KID, r.Alg)
		}
		sk := &signingKey{kid: r.KID, alg: alg, algName: r.Alg, signer: signer, public: signer.Public(), jwk: pub, created: r.CreatedAt, activeAt: r.ActiveAt}
		keys = append(keys, sk)
		byKID[sk.kid] = sk
	}
	// Publish every key that signs now or will, and retired keys for retain after their successor took over.
	set := jwk.NewSet()
	for i, sk := range keys {
		retiredAt := time.Time{}
		for _, later := range keys[i+1:] {
			if !later.activeAt.After(now) {
				retiredAt = later.activeAt
				break
			}
		}
		if retiredAt.IsZero() || now.Sub(retiredAt) < k.retain {
			_ = set.AddKey(sk.jwk)
		}
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.keys, k.byKID, k.jwks, k.loaded = keys, byKID, doc, now
	k.mu.Unlock()
	return nil
}

// maybeReload picks up keys added by other replicas or by `authd keys rotate`.
func (k *keyRing) maybeReload(ctx context.Context) {
	k.mu.RLock()
	stale := k.now().Sub(k.loaded) > k.reload
	k.mu.RUnlock()
	if stale {
		_ = k.load(ctx) // keep serving with the keys we have if the store hiccups
	}
}

// current is the newest key whose ActiveAt has passed.
func (k *keyRing) current(ctx context.Context) (*signingKey, error) {
	k.maybeReload(ctx)
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	for i := len(k.keys) - 1; i >= 0; i-- {
		if !k.keys[i].activeAt.After(now) {
			return k.keys[i], nil
		}
	}
	return nil, errors.New("as: no active signing key")
}

func (k *keyRing) lookup(kid string) *signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.byKID[kid]
}

func (k *keyRing) jwksDocument(ctx context.Context) []byte {
	k.maybeReload(ctx)
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwks
}

// seal encrypts plaintext with AES-256-GCM under kek, binding aad (the kid). Output: nonce || ciphertext.
func seal(kek, plaintext, aad []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

func open(kek, sealed, aad []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed key too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
}

// RotateSigningKey adds a signing key to st without running a server (`authd keys rotate`): published at
// once, signing after lead. Every server sharing st picks it up within its reload interval.
func RotateSigningKey(ctx context.Context, st store.Store, kek []byte, alg string, lead time.Duration) (string, error) {
	k, err := newKeyRing(st, kek, alg, 25*time.Hour, time.Now)
	if err != nil {
		return "", err
	}
	if err := k.load(ctx); err != nil {
		return "", err // refuses a KEK that cannot open the existing keys
	}
	return k.rotate(ctx, lead)
}
