package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/dcvd/dcvd/providers/internal/wire"
	"strings"
	"time"
)

// ID is a DigiCert identifier. Most responses send IDs as JSON numbers, the
// order validation endpoint sends them as strings; ID accepts both (and
// null) and keeps the decimal text.
type ID = wire.Text

// FlexString decodes a JSON string, number or bool as text. DigiCert types
// some string fields as int in its docs (the domain token) and some flags as
// "1" strings; this reads whatever arrives.
type FlexString = wire.Text

// Page is the paging object of list responses.
type Page struct {
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// Order is one entry of the list-orders response (and the order-info
// response, which carries more fields).
type Order struct {
	ID          ID     `json:"id"`
	Status      string `json:"status"`
	DateCreated string `json:"date_created,omitempty"`
	Certificate struct {
		ID         ID       `json:"id"`
		CommonName string   `json:"common_name"`
		DNSNames   []string `json:"dns_names"`
		ValidTill  string   `json:"valid_till,omitempty"`
	} `json:"certificate"`
	Product struct {
		NameID string `json:"name_id"`
		Name   string `json:"name"`
		Type   string `json:"type"`
	} `json:"product"`
	// DCVMethod is read from order info by public client code; it is not
	// documented on the list response. Empty when absent.
	DCVMethod      string `json:"dcv_method,omitempty"`
	DCVRandomValue string `json:"dcv_random_value,omitempty"`
}

// OrderList is the list-orders response.
type OrderList struct {
	Orders []Order `json:"orders"`
	Page   Page    `json:"page"`
	// Skipped counts entries of "orders" that did not decode or whose id
	// is not a decimal number: one malformed order must not hide the
	// others of its page (nor end up in a request path).
	Skipped int `json:"-"`
}

// UnmarshalJSON decodes the page order by order (see Skipped).
func (l *OrderList) UnmarshalJSON(b []byte) error {
	var raw struct {
		Orders []json.RawMessage `json:"orders"`
		Page   Page              `json:"page"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*l = OrderList{Page: raw.Page}
	for _, r := range raw.Orders {
		var o Order
		if json.Unmarshal(r, &o) != nil || !decimal(o.ID.String()) {
			l.Skipped++
			continue
		}
		l.Orders = append(l.Orders, o)
	}
	return nil
}

func decimal(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// NameValidation is one entry of dns_name_validations in the order
// validation response.
type NameValidation struct {
	DomainID               ID       `json:"domain_id"`
	NameScope              string   `json:"name_scope"`
	ApprovalScope          string   `json:"approval_scope,omitempty"`
	Status                 string   `json:"status"`
	Method                 string   `json:"method"`
	DNSNames               []string `json:"dns_names"`
	ApprovalExpirationDate string   `json:"approval_expiration_date,omitempty"`
	// DNSName appears in check-dcv responses instead of name_scope.
	DNSName string `json:"dns_name,omitempty"`
}

// OrderValidation is the response of GET /order/certificate/{id}/validation.
type OrderValidation struct {
	OrderID                 ID               `json:"order_id"`
	OrderStatus             string           `json:"order_status"`
	OrderNameScope          string           `json:"order_name_scope"`
	OrderDCVMethod          string           `json:"order_dcv_method"`
	OrganizationID          ID               `json:"organization_id"`
	OrganizationName        string           `json:"organization_name,omitempty"`
	OrganizationValidations []map[string]any `json:"organization_validations,omitempty"`
	DNSNameValidations      []NameValidation `json:"dns_name_validations"`
}

// RandomValue is the order random value (dcv-random-value and the response of
// a switch to a token method).
type RandomValue struct {
	DCVRandomValue string `json:"dcv_random_value"`
	ExpirationDate string `json:"expiration_date"`
}

// Expires parses ExpirationDate (zero when absent or unparsable).
func (r RandomValue) Expires() time.Time { return ParseTime(r.ExpirationDate) }

// CheckDCVResult is the 200 response of check-dcv. The legacy docs show it
// without DNSNameValidations.
type CheckDCVResult struct {
	OrderStatus        string `json:"order_status"`
	CertificateID      ID     `json:"certificate_id"`
	DCVStatus          string `json:"dcv_status"`
	DNSNameValidations []struct {
		DNSName string `json:"dns_name"`
		Status  string `json:"status"`
	} `json:"dns_name_validations"`
}

// DCVToken is a domain's DCV random value.
type DCVToken struct {
	Token             FlexString `json:"token"`
	Status            string     `json:"status,omitempty"`
	ExpirationDate    string     `json:"expiration_date,omitempty"`
	VerificationValue string     `json:"verification_value,omitempty"`
	HTTPTokenURL      string     `json:"http_token_url,omitempty"`
}

// DomainValidation is one entry of a domain's validations list.
type DomainValidation struct {
	Type           string `json:"type"`
	Name           string `json:"name,omitempty"`
	Description    string `json:"description,omitempty"`
	DateCreated    string `json:"date_created,omitempty"`
	ValidatedUntil string `json:"validated_until,omitempty"`
	Status         string `json:"status"`
	DCVStatus      string `json:"dcv_status,omitempty"`
	OrgStatus      string `json:"org_status,omitempty"`
}

// Domain is the domain-info response (GET /domain/{id}) and one item of the
// list-domains response (GET /domain), which carries the same fields minus
// the DCV token block.
type Domain struct {
	ID                    ID                 `json:"id"`
	Name                  string             `json:"name"`
	IsActive              *Flag              `json:"is_active"`
	Status                string             `json:"status,omitempty"`
	IsPendingValidation   Flag               `json:"is_pending_validation"`
	DCVMethod             string             `json:"dcv_method,omitempty"`
	DCVToken              *DCVToken          `json:"dcv_token,omitempty"`
	DCVApprovalDatetime   string             `json:"dcv_approval_datetime,omitempty"`
	DCVExpirationDatetime string             `json:"dcv_expiration_datetime,omitempty"`
	Validations           []DomainValidation `json:"validations,omitempty"`
	// DCVExpiration is the list response's per-type expiry ({ov, ev, ...});
	// absent (nil) for a domain that was never validated.
	DCVExpiration DCVExpiration `json:"dcv_expiration,omitempty"`
	DateCreated   string        `json:"date_created,omitempty"`
	// LastSubmittedDatetime is when the domain was last submitted for validation.
	LastSubmittedDatetime string     `json:"last_submitted_datetime,omitempty"`
	Organization          *DomainOrg `json:"organization,omitempty"`
}

// Active reports whether the domain is active (true when is_active is
// absent: only an explicit false deactivates).
func (d *Domain) Active() bool { return d.IsActive == nil || bool(*d.IsActive) }

// DomainOrg is the organization a domain belongs to.
type DomainOrg struct {
	ID          ID         `json:"id"`
	Status      string     `json:"status,omitempty"`
	Name        string     `json:"name,omitempty"`
	DisplayName string     `json:"display_name,omitempty"`
	IsActive    FlexString `json:"is_active,omitempty"` // "1" in the docs
}

// DomainList is the list-domains response.
type DomainList struct {
	Domains []Domain `json:"domains"`
	Page    Page     `json:"page"`
}

// Flag decodes a JSON bool that DigiCert may also send as 1/0 or
// "1"/"0"/"true"/"false" (null and "" are false).
type Flag bool

// UnmarshalJSON accepts bools, numbers and strings.
func (f *Flag) UnmarshalJSON(b []byte) error {
	var s FlexString
	if err := s.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("flag: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(string(s))) {
	case "true", "1", "yes":
		*f = true
	case "false", "0", "no", "", "null":
		*f = false
	default:
		return fmt.Errorf("flag: want a boolean, got %s", b)
	}
	return nil
}

// DCVExpiration is a domain's dcv_expiration object: validation type ("ov",
// "ev", "ov_shortened", ...) to a date (YYYY-MM-DD in Mountain Time, or ISO
// with include_dcv_expiration_time), plus status entries ("ov_status"). Only
// scalar members are kept; null or an empty string decode to nil.
type DCVExpiration map[string]string

// UnmarshalJSON accepts an object, null or a string (kept under "date").
func (e *DCVExpiration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*e = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*e = nil
		} else {
			*e = DCVExpiration{"date": s}
		}
		return nil
	case len(b) > 0 && b[0] == '[':
		*e = nil // an empty list stands in for "none" in some PHP-made APIs
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("dcv_expiration: %w", err)
	}
	out := DCVExpiration{}
	for k, v := range raw {
		var s FlexString
		if s.UnmarshalJSON(v) == nil && s != "" {
			out[k] = string(s)
		}
	}
	*e = out
	return nil
}

// Latest returns the latest date among the expiration entries (zero when
// there is none or none parses).
func (e DCVExpiration) Latest() time.Time {
	var best time.Time
	for k, v := range e {
		if strings.HasSuffix(k, "_status") {
			continue
		}
		if t := ParseTime(v); t.After(best) {
			best = t
		}
	}
	return best
}

// ValidationEmails is the email part of a domain method change to email
// (current docs); legacy responses send {} instead.
type ValidationEmails struct {
	NameScope  string   `json:"name_scope,omitempty"`
	BaseEmails []string `json:"base_emails,omitempty"`
	// WhoisEmails and DNSTXTEmails are further lists some responses carry.
	WhoisEmails  []string `json:"whois_emails,omitempty"`
	DNSTXTEmails []string `json:"dns_txt_emails,omitempty"`
}

// All returns every address, de-duplicated, in order.
func (v *ValidationEmails) All() []string {
	if v == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, l := range [][]string{v.BaseEmails, v.WhoisEmails, v.DNSTXTEmails} {
		for _, e := range l {
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	return out
}

// DCVMethodResult is what a domain DCV method change returned: a token for
// the token methods, validation emails for email, nothing when the method
// did not change.
type DCVMethodResult struct {
	DCVToken         *DCVToken         `json:"dcv_token,omitempty"`
	ValidationEmails *ValidationEmails `json:"validation_emails,omitempty"`
}

// String describes the result for a terminal: the token and where it goes,
// or the validation emails, or that nothing changed.
func (r DCVMethodResult) String() string {
	var parts []string
	if t := r.DCVToken; t != nil {
		parts = append(parts, "token "+string(t.Token))
		if t.VerificationValue != "" {
			parts = append(parts, "verification value "+t.VerificationValue)
		}
		if t.Status != "" {
			parts = append(parts, "status "+t.Status)
		}
		if t.ExpirationDate != "" {
			parts = append(parts, "expires "+t.ExpirationDate)
		}
		if t.HTTPTokenURL != "" {
			parts = append(parts, "url "+t.HTTPTokenURL)
		}
	}
	if e := r.ValidationEmails.All(); len(e) > 0 {
		parts = append(parts, "validation emails "+strings.Join(e, ", "))
	}
	if len(parts) == 0 {
		return "no change (DigiCert returned no token or emails)"
	}
	return strings.Join(parts, "; ")
}

// DomainToken is the response of POST /domain/{id}/dcv/token.
type DomainToken struct {
	Token          FlexString `json:"token"`
	ExpirationDate string     `json:"expiration_date,omitempty"`
	HTTPTokenURL   string     `json:"http_token_url,omitempty"`
}

// DomainCheck is the 200 response of PUT /domain/{id}/dcv/validate-token:
// legacy {"token": ..., "status": "active"}, current {"status": "active"}.
type DomainCheck struct {
	Token  FlexString `json:"token,omitempty"`
	Status string     `json:"status"`
}

// User is the part of GET /user/me dcvd reads (to explain 403s).
type User struct {
	ID          ID     `json:"id"`
	Username    string `json:"username"`
	Email       string `json:"email,omitempty"`
	AccessRoles []struct {
		ID   ID     `json:"id"`
		Name string `json:"name"`
	} `json:"access_roles"`
}

// ParseTime reads ISO 8601 timestamps and the legacy YYYY-MM-DD dates.
func ParseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
