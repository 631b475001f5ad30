package apiclient

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Auth authenticates requests.
type Auth interface {
	// Authorize adds the credential to req (a header). It may mint a token.
	Authorize(ctx context.Context, req *http.Request) error
	// Refresh is called once after a 401 answered refused (a request as it
	// was sent). It drops the credential refused carried so that the next
	// Authorize gets a fresh one, and reports whether retrying can help;
	// false (a static key) returns the 401 to the caller.
	Refresh(ctx context.Context, refused *http.Request) bool
}

// HeaderKey is a static key sent in one header (DigiCert's X-DC-DEVKEY). A
// 401 is final.
func HeaderKey(name, value string) Auth { return headerKey{name, value} }

type headerKey struct{ name, value string }

func (h headerKey) Authorize(_ context.Context, req *http.Request) error {
	req.Header.Set(h.name, h.value)
	return nil
}
func (headerKey) Refresh(context.Context, *http.Request) bool { return false }

// TokenFunc mints a token and says when it expires (zero: unknown, used
// until refused).
type TokenFunc func(ctx context.Context) (token string, expires time.Time, err error)

// Bearer sends "Authorization: Bearer <token>" with a token minted by mint.
// The token is cached and shared by all requests; it is minted again early
// before it expires, by one caller while the others wait for that result (a
// single flight), and once more after a 401.
func Bearer(mint TokenFunc, early time.Duration) Auth {
	return &bearer{mint: mint, early: early, now: time.Now}
}

type bearer struct {
	mint  TokenFunc
	early time.Duration
	now   func() time.Time

	mu     sync.Mutex
	token  string
	exp    time.Time
	flight *flight
}

// flight is one mint in progress; done is closed when it ends.
type flight struct {
	done chan struct{}
	err  error
}

func (b *bearer) valid() bool {
	return b.token != "" && (b.exp.IsZero() || b.now().Before(b.exp.Add(-b.early)))
}

// Token returns the current token, minting it when needed.
func (b *bearer) Token(ctx context.Context) (string, error) {
	b.mu.Lock()
	if b.valid() {
		t := b.token
		b.mu.Unlock()
		return t, nil
	}
	f := b.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		b.flight = f
		b.mu.Unlock()
		tok, exp, err := b.mint(ctx)
		b.mu.Lock()
		if err == nil {
			b.token, b.exp = tok, exp
		}
		f.err = err
		b.flight = nil
		close(f.done)
		b.mu.Unlock()
		return tok, err
	}
	b.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if f.err != nil {
		return "", f.err
	}
	return b.Token(ctx)
}

func (b *bearer) Authorize(ctx context.Context, req *http.Request) error {
	t, err := b.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t)
	return nil
}

func (b *bearer) Refresh(_ context.Context, refused *http.Request) bool {
	sent := strings.TrimPrefix(refused.Header.Get("Authorization"), "Bearer ")
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.token == sent {
		b.token, b.exp = "", time.Time{}
	}
	return true
}

// OAuth2 authenticates with tokens from ts (golang.org/x/oauth2). Wrap ts
// in oauth2.ReuseTokenSource to cache; a 401 is final, since a TokenSource
// cannot be told that its token was refused.
func OAuth2(ts oauth2.TokenSource) Auth { return oauth2Auth{ts} }

type oauth2Auth struct{ ts oauth2.TokenSource }

func (o oauth2Auth) Authorize(_ context.Context, req *http.Request) error {
	t, err := o.ts.Token()
	if err != nil {
		return err
	}
	t.SetAuthHeader(req)
	return nil
}
func (oauth2Auth) Refresh(context.Context, *http.Request) bool { return false }
