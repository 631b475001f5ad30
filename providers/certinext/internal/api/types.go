package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/dcvd/dcvd/providers/internal/wire"
)

// Text is a JSON string or number (or null) read as text: the API models IDs
// as strings, but order IDs look numeric and some clients saw numbers.
type Text = wire.Text

// TokenResponse is the OAuth2 token endpoint's answer (flat, RFC 6749).
// refresh_token is optional (spec §2).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    Text   `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// Me is GET /auth/me.
type Me struct {
	AccountNumber Text   `json:"accountNumber"`
	AuthType      string `json:"authType"`
}

// Page is one page of a list. It reads the Spring page envelope
// {"content":[...],"page","size","totalElements","totalPages"} and the bare
// array some endpoints answered instead (spec §1, [UMS] R07); Bare tells
// which it was.
type Page[T any] struct {
	Content       []T
	Page          int
	Size          int
	TotalElements int
	TotalPages    int
	Bare          bool
}

func (p *Page[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		p.Bare = true
		return json.Unmarshal(b, &p.Content)
	}
	var env struct {
		Content       []T  `json:"content"`
		Page          *int `json:"page"`
		Number        *int `json:"number"` // Spring Data's own name for the page index
		Size          int  `json:"size"`
		TotalElements int  `json:"totalElements"`
		TotalPages    int  `json:"totalPages"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	p.Content, p.Size, p.TotalElements, p.TotalPages = env.Content, env.Size, env.TotalElements, env.TotalPages
	switch {
	case env.Page != nil:
		p.Page = *env.Page
	case env.Number != nil:
		p.Page = *env.Number
	}
	return nil
}

// Domain is an account domain (spec §3). Timestamps are RFC 3339 UTC.
type Domain struct {
	DomainID         Text   `json:"domainId"`
	DomainName       string `json:"domainName"`
	OrganizationID   Text   `json:"organizationId"`
	OrganizationName string `json:"organizationName"`
	Status           string `json:"status"`    // ACTIVE, INACTIVE, EXPIRED, REVOKED (DEACTIVATED contested)
	DCVStatus        string `json:"dcvStatus"` // PENDING, VERIFIED, REJECTED, EXPIRED
	CreatedAt        Text   `json:"createdAt"`
	VerifiedAt       Text   `json:"verifiedAt"`
	ValidTill        Text   `json:"validTill"`
	DCV              *struct {
		Method string `json:"method"`
	} `json:"dcv"`
}

// Expiry is when the domain's validation can no longer be reused
// (validTill; zero when absent or unreadable). See ParseTime.
func (d *Domain) Expiry() time.Time { return ParseTime(d.ValidTill) }

// Verified is when the domain's current validation was completed
// (verifiedAt; zero when absent).
func (d *Domain) Verified() time.Time { return ParseTime(d.VerifiedAt) }

// ParseTime reads a CERTInext timestamp. The recorded payloads are RFC 3339
// UTC ("2026-10-17T11:00:00Z", CONFIRMED); a date is read defensively in
// the other forms Spring serialises a date to when no zone is configured:
// a local date-time without offset ("2026-10-17T11:00:00[.sss]", taken as
// UTC) and a bare date ("2026-10-17", taken as its first instant in UTC, the
// earlier and so the safer end for an expiry). Anything else is zero.
func ParseTime(t Text) time.Time {
	s := strings.TrimSpace(string(t))
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", time.DateOnly} {
		if v, err := time.Parse(layout, s); err == nil {
			return v.UTC()
		}
	}
	return time.Time{}
}

// Method returns the domain's DCV method when the view carries it.
func (d *Domain) Method() string {
	if d.DCV == nil {
		return ""
	}
	return strings.ToLower(d.DCV.Method)
}

// DCVMethod values on the wire (spec §5.1; email INFERRED).
const (
	MethodDNSTXT  = "dns-txt"
	MethodHTTPURL = "http-url"
	MethodEmail   = "email"
)

// Challenge is a DCV challenge of a domain (GET /domains/{id}/dcv) or of
// one name of an order (GET /ssl-certificates/{id}/dcv?domain=...). The key
// names have not been captured from the live API (spec §5.2, §5.3), so
// every alias the spec lists is read:
//
//	value:  txtToken | fileToken | token | dnsContents
//	host:   dnsHost | host
//	expiry: tokenExpiry | tokenExpiryDate
//	domain: domain | domainName;  method: method | dcvMethod
type Challenge struct {
	Domain string
	Method string
	Value  string
	Host   string // "" (not said), a bare label, or a full owner name
	Expiry Text
}

func (c *Challenge) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	first := func(keys ...string) (string, error) {
		for _, k := range keys {
			raw, ok := m[k]
			if !ok {
				continue
			}
			var t Text
			if err := t.UnmarshalJSON(raw); err != nil {
				return "", fmt.Errorf("%s: %w", k, err)
			}
			if t != "" {
				return string(t), nil
			}
		}
		return "", nil
	}
	var err error
	set := func(dst *string, keys ...string) {
		if err == nil {
			*dst, err = first(keys...)
		}
	}
	set(&c.Domain, "domain", "domainName")
	set(&c.Method, "method", "dcvMethod")
	set(&c.Value, "txtToken", "fileToken", "token", "dnsContents")
	set(&c.Host, "dnsHost", "host")
	var exp string
	set(&exp, "tokenExpiry", "tokenExpiryDate")
	c.Expiry = Text(exp)
	c.Method = strings.ToLower(c.Method)
	return err
}

// DecodeOrderChallenges reads the body of GET /ssl-certificates/{id}/dcv in
// any of the shapes the spec lists (§5.3): a single flat challenge
// {"token","tokenExpiryDate"}, {"challenges":[...]}, or a bare array.
func DecodeOrderChallenges(body []byte) ([]Challenge, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var list []Challenge
		err := json.Unmarshal(body, &list)
		return list, err
	}
	var env struct {
		Challenges []Challenge `json:"challenges"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	if env.Challenges != nil {
		return env.Challenges, nil
	}
	var one Challenge
	if err := json.Unmarshal(body, &one); err != nil {
		return nil, err
	}
	return []Challenge{one}, nil
}

// Diagnostics is CERTInext's account of one verification attempt (spec §6,
// CONFIRMED key names).
type Diagnostics struct {
	AttemptTimestamp Text          `json:"attemptTimestamp"`
	DomainID         Text          `json:"domainId"`
	DomainName       string        `json:"domainName"`
	Method           string        `json:"method"` // "DNS_TXT"
	OverallStatus    string        `json:"overallStatus"`
	FailureClass     string        `json:"failureClass"`
	TokenIsStale     bool          `json:"tokenIsStale"`
	SchemaVersion    Text          `json:"schemaVersion"`
	Perspectives     []Perspective `json:"perspectives"`
	Expected         struct {
		DomainName  string `json:"domainName"`
		RecordValue string `json:"recordValue"`
		FileName    string `json:"fileName"`
		FileContent string `json:"fileContent"`
	} `json:"expected"`
	Consensus struct {
		Agreed                   Text   `json:"agreed"`
		QuorumCount              Text   `json:"quorumCount"`
		PerspectiveCount         Text   `json:"perspectiveCount"`
		TotalPerspectivesQueried Text   `json:"totalPerspectivesQueried"`
		RIRDiversityMet          Text   `json:"rirDiversityMet"`
		ConsensusValue           Text   `json:"consensusValue"`
		ConsensusURL             string `json:"consensusUrl"`
		ConsensusStatusCode      Text   `json:"consensusStatusCode"`
	} `json:"consensus"`
	NextSteps []struct {
		Key      string         `json:"key"`
		Params   map[string]any `json:"params"`
		Severity string         `json:"severity"`
	} `json:"nextSteps"`
}

// Perspective is one network perspective's view. Its shape is not in the
// recorded payloads (they hold an empty list); unknown keys are ignored.
type Perspective struct {
	Perspective string   `json:"perspective"`
	Status      string   `json:"status"`
	Values      []string `json:"values"`
	Error       string   `json:"error"`
}

// VerifyResult is a 2xx answer of a verify call: the domain form {domainId,
// method, status, diagnostics} or the order form {overallStatus, method,
// verifiedAt}. A 204 gives a zero VerifyResult with NoContent set.
type VerifyResult struct {
	DomainID      Text         `json:"domainId"`
	Method        string       `json:"method"`
	Status        string       `json:"status"`
	OverallStatus string       `json:"overallStatus"`
	VerifiedAt    Text         `json:"verifiedAt"`
	Diagnostics   *Diagnostics `json:"diagnostics"`
	NoContent     bool         `json:"-"`
}

// Verdict returns the result's status: overallStatus, else status, else
// VERIFIED for a 204.
func (v *VerifyResult) Verdict() string {
	switch {
	case v.OverallStatus != "":
		return strings.ToUpper(v.OverallStatus)
	case v.Status != "":
		return strings.ToUpper(v.Status)
	case v.NoContent:
		return "VERIFIED"
	case v.Diagnostics != nil && v.Diagnostics.OverallStatus != "":
		return strings.ToUpper(v.Diagnostics.OverallStatus)
	}
	return ""
}

// Attempt is one row of GET /domains/{id}/dcv/attempts.
type Attempt struct {
	AttemptID     Text   `json:"attemptId"`
	AttemptedAt   Text   `json:"attemptedAt"`
	Method        string `json:"method"`
	OverallStatus string `json:"overallStatus"`
	FailureClass  string `json:"failureClass"`
}

// LastAttempt is GET /domains/{id}/dcv/attempts/last.
type LastAttempt struct {
	DomainID    Text         `json:"domainId"`
	Method      string       `json:"method"`
	Status      string       `json:"status"`
	Diagnostics *Diagnostics `json:"diagnostics"`
}

// OrderSummary is one row of GET /reports/orders.
type OrderSummary struct {
	OrderID        Text   `json:"orderId"`
	RequestID      Text   `json:"requestId"`
	Status         string `json:"status"`
	ProductVariant string `json:"productVariant"`
	Domain         string `json:"domain"`
	CreatedAt      Text   `json:"createdAt"`
}

// Order is GET /ssl-certificates/{id}, the parts DCV needs (spec §7 step 5).
type Order struct {
	OrderID           Text     `json:"orderId"`
	RequestID         Text     `json:"requestId"`
	Status            string   `json:"status"` // pending-dcv, issued, cancelled, ...
	ProductVariant    string   `json:"productVariant"`
	Domain            string   `json:"domain"`
	AdditionalDomains []string `json:"additionalDomains"`
	OrderState        string   `json:"orderState"`
	CertificateState  string   `json:"certificateState"`
	Verifications     struct {
		Domain struct {
			Status  string        `json:"status"`
			Domains []OrderDomain `json:"domains"`
		} `json:"domain"`
	} `json:"verifications"`
}

// OrderDomain is the DCV state of one name of an order. dcvMethod and
// verifiedAt are absent until VERIFIED.
type OrderDomain struct {
	Domain       string `json:"domain"`
	DomainStatus string `json:"domainStatus"`
	DCVMethod    string `json:"dcvMethod"`
	DCVStatus    string `json:"dcvStatus"` // PENDING, VERIFIED, REJECTED, EXPIRED
	VerifiedAt   Text   `json:"verifiedAt"`
	CAAStatus    string `json:"caaStatus"`
}

// Problem is an RFC 7807 error body, with the members CERTInext adds (a
// 409's existingDomainId, a failed verify's overallStatus and diagnostics)
// and Spring's default error body ({"error","message","path"}).
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   Text   `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Errors   []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
	ExistingDomainID Text         `json:"existingDomainId"`
	OverallStatus    string       `json:"overallStatus"`
	Domain           string       `json:"domain"`
	Diagnostics      *Diagnostics `json:"diagnostics"`
	// Spring default / OAuth2 members.
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Message          string `json:"message"`
	Path             string `json:"path"`
}
