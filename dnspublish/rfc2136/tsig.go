package rfc2136

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/secret"
)

// tsigFudge is the allowed clock difference, in seconds, between dcvd and
// the server (RFC 8945 recommends 300).
const tsigFudge = 300

// tsigKey is a TSIG key in the form miekg/dns wants: fully qualified,
// lower-case name and algorithm, base64 secret.
type tsigKey struct {
	name, algorithm, secret string
}

// parseAlgorithm accepts "hmac-sha256", "HMAC-SHA256." and the like and
// returns the miekg/dns constant.
func parseAlgorithm(s string) (string, bool) {
	switch a := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".") + "."; a {
	case dns.HmacSHA1, dns.HmacSHA224, dns.HmacSHA256, dns.HmacSHA384, dns.HmacSHA512:
		return a, true
	}
	return "", false
}

func newTSIGKey(name, algorithm string, ref secret.Ref) (*tsigKey, error) {
	if _, ok := dns.IsDomainName(name); !ok {
		return nil, fmt.Errorf("tsig_key %q is not a valid key name", name)
	}
	if algorithm == "" {
		algorithm = DefaultAlgorithm
	}
	alg, ok := parseAlgorithm(algorithm)
	if !ok {
		return nil, fmt.Errorf("tsig_algorithm %q: want one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512", algorithm)
	}
	if !ref.Set() {
		return nil, fmt.Errorf("tsig_key %q needs a secret: set tsig_secret, tsig_secret_file or tsig_secret_credential", name)
	}
	s, err := ref.Read()
	if err != nil {
		return nil, err
	}
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		// Never print the secret itself.
		return nil, fmt.Errorf("tsig_secret (%s): not valid base64 (copy the secret from the key file as is)", ref.Redact())
	}
	return &tsigKey{name: dns.CanonicalName(name), algorithm: alg, secret: s}, nil
}

// sign adds a TSIG record to m; the client signs it when it is written.
func (k *tsigKey) sign(m *dns.Msg) {
	if k != nil {
		m.SetTsig(k.name, k.algorithm, tsigFudge, time.Now().Unix())
	}
}

func (k *tsigKey) secrets() map[string]string {
	if k == nil {
		return nil
	}
	return map[string]string{k.name: k.secret}
}
