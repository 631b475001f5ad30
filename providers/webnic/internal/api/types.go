// Package api is the WebNIC RESTful SSL API v2 client dcvd uses: the wire
// types of the calls in shared/specs/webnic-sectigo.md and a client built
// on internal/apiclient.
//
// Most SSL field shapes are third-party observations, not documentation, so
// every type here decodes defensively: an id may be a number or a string, a
// list may arrive as one object, a field may use another client's name
// (dnsName/dnsValue for host/value). Each accepted shape has a recorded
// fixture in testdata/ and a decoding test.
package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Success codes: "1000" (command completed), "3000" (batch: N of M
// processed). The code is a string on the wire; a number is accepted too.
const (
	CodeOK      = "1000"
	CodePartial = "3000"
)

// Text is a JSON string or number, kept as text ("1000", 880001).
type Text string

// UnmarshalJSON accepts a string, a number or null.
func (t *Text) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		*t = ""
	case string:
		*t = Text(x)
	case json.Number:
		*t = Text(x.String())
	default:
		return fmt.Errorf("want a string or a number, got %.40s", b)
	}
	return nil
}

// Int is a JSON number or a numeric string ("3600").
type Int int64

// UnmarshalJSON accepts a number, a numeric string or null.
func (i *Int) UnmarshalJSON(b []byte) error {
	var t Text
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	if t == "" {
		*i = 0
		return nil
	}
	f, err := strconv.ParseFloat(string(t), 64)
	if err != nil {
		return fmt.Errorf("want a number, got %s", b)
	}
	*i = Int(f)
	return nil
}

// List is a JSON array that a sloppy server may also send as one object or
// as null.
type List[T any] []T

// UnmarshalJSON accepts [..], a single value, or null.
func (l *List[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '[':
		var v []T
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*l = v
		return nil
	}
	var one T
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*l = List[T]{one}
	return nil
}

// Names is a list of names sent as a JSON array or as one comma-separated
// string (sanfield).
type Names []string

// UnmarshalJSON accepts ["a","b"], "a,b", "" or null.
func (n *Names) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var v []string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*n = v
		return nil
	}
	var t Text
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	*n = nil
	for _, s := range strings.Split(string(t), ",") {
		if s = strings.TrimSpace(s); s != "" {
			*n = append(*n, s)
		}
	}
	return nil
}

// Envelope is every WebNIC reply:
//
//	{"code":"1000","message":"Command completed successfully.","data":{...}}
//	{"code":"...","message":"...","error":{"subCode":"RES0004","message":"..."},
//	 "fieldErrors":[{"field":"...","messages":["..."]}],
//	 "validationErrors":[{"field":"...","message":"..."}]}
//
// fieldErrors and validationErrors are printed as single objects in the
// reference and typed Object[]: both are accepted.
type Envelope struct {
	Code             Text             `json:"code"`
	Message          string           `json:"message"`
	Data             json.RawMessage  `json:"data"`
	Error            *SubError        `json:"error"`
	FieldErrors      List[FieldError] `json:"fieldErrors"`
	ValidationErrors List[FieldError] `json:"validationErrors"`
}

// OK reports whether the envelope says success.
func (e *Envelope) OK() bool { return e.Code == CodeOK || e.Code == CodePartial }

// SubError is the error member of a failure envelope.
type SubError struct {
	SubCode Text   `json:"subCode"`
	Message string `json:"message"`
}

// FieldError is one field validation failure.
type FieldError struct {
	Field    string       `json:"field"`
	Message  string       `json:"message"`
	Messages List[string] `json:"messages"`
}

// Text returns the failure's words.
func (f FieldError) Text() string {
	msgs := append([]string(nil), f.Messages...)
	if f.Message != "" {
		msgs = append(msgs, f.Message)
	}
	return strings.Join(msgs, "; ")
}

// Token is the data of POST /reseller/v2/api-user/token:
// {"access_token":"<JWT>","expires_in":3600} (camelCase accepted too).
type Token struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   Int    `json:"expires_in"`
}

// UnmarshalJSON accepts access_token/expires_in and accessToken/expiresIn.
func (t *Token) UnmarshalJSON(b []byte) error {
	var v struct {
		A1 string `json:"access_token"`
		A2 string `json:"accessToken"`
		E1 Int    `json:"expires_in"`
		E2 Int    `json:"expiresIn"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t.AccessToken, t.ExpiresIn = first(v.A1, v.A2), v.E1
	if t.ExpiresIn == 0 {
		t.ExpiresIn = v.E2
	}
	return nil
}

// Filter is one search filter: {"field":"orderStatus","operator":"EQUAL","value":"PENDING"}.
type Filter struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

// Pagination is the page request of a search (page counts from 1).
type Pagination struct {
	Page     int `json:"page"`
	PageSize int `json:"pageSize"`
}

// SearchRequest is the body of POST /ssl/v2/orders/search.
type SearchRequest struct {
	Filters    []Filter   `json:"filters,omitempty"`
	Pagination Pagination `json:"pagination"`
}

// SearchPage is the data of a search:
// {"pageSize","totalPages","totalItems","items":[...]}.
type SearchPage struct {
	Page       Int                `json:"page"`
	PageSize   Int                `json:"pageSize"`
	TotalPages Int                `json:"totalPages"`
	TotalItems Int                `json:"totalItems"`
	Items      List[OrderSummary] `json:"items"`
}

// OrderSummary is one search item.
type OrderSummary struct {
	OrderID     Text   `json:"orderId"`
	CommonName  string `json:"commonName"`
	OrderStatus string `json:"orderStatus"`
	CertStatus  string `json:"certStatus"`
	Product     Text   `json:"product"`
	Term        Text   `json:"term"`
	// Dates: "2006-01-02 15:04:05" in the recorded examples [3P]; read
	// with ParseDate, which takes the other forms too.
	Created     Text `json:"dtcreate"`
	OrderExpire Text `json:"dtorderexpire"`
	CertExpire  Text `json:"dtcertexpire"`
}

// ParseDate reads a WebNIC date. No doc page gives the format: the
// third-party examples show "2006-01-02 15:04:05"; RFC 3339, a date-time
// with "T" and no offset, a bare date and a UNIX time in seconds or
// milliseconds (a number) are read too. A date without an offset is taken
// as UTC (WebNIC's own zone is not documented; the error is hours against
// reuse periods of months). Anything else, or nothing, is zero.
func ParseDate(t Text) time.Time {
	s := strings.TrimSpace(string(t))
	if s == "" {
		return time.Time{}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		if n >= 1e11 { // milliseconds (1e11 s is the year 5138)
			return time.UnixMilli(n).UTC()
		}
		return time.Unix(n, 0).UTC()
	}
	for _, layout := range []string{"2006-01-02 15:04:05", time.RFC3339Nano, "2006-01-02T15:04:05.999999999", time.DateOnly} {
		if v, err := time.Parse(layout, s); err == nil {
			return v.UTC()
		}
	}
	return time.Time{}
}

// OrderInfo is the data of GET /ssl/v2/orders/info (SANs in sanfield, an
// array or a comma-separated string).
type OrderInfo struct {
	OrderID     Text   `json:"orderId"`
	CommonName  string `json:"commonName"`
	SANs        Names  `json:"sanfield"`
	OrderStatus string `json:"orderStatus"`
	CertStatus  string `json:"certStatus"`
	AuthType    string `json:"authType"`
	Product     Text   `json:"product"`
	Created     string `json:"dtcreate"`
	Modified    string `json:"dtmodify"`
}

// Challenge is one name's DCV item in the auth replies. dns: host,
// recordType, value; file: path and/or fileName, value (the file body);
// email: value (the approver address). dnsName/dnsValue (a third-party
// client's field names) are accepted for host/value.
type Challenge struct {
	Name       string `json:"name"`
	AuthType   string `json:"authType"`
	RecordType string `json:"recordType"`
	Host       string `json:"host"`
	Value      string `json:"value"`
	Path       string `json:"path"`
	FileName   string `json:"fileName"`
}

// UnmarshalJSON applies the field aliases.
func (c *Challenge) UnmarshalJSON(b []byte) error {
	type plain Challenge
	var v struct {
		plain
		DNSName   string `json:"dnsName"`
		DNSValue  string `json:"dnsValue"`
		Domain    string `json:"domain"`
		Method    string `json:"dcvMethod"`
		Type      string `json:"type"`
		AuthValue string `json:"authValue"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = Challenge(v.plain)
	c.Name = first(c.Name, v.Domain)
	c.Host = first(c.Host, v.DNSName)
	c.Value = first(c.Value, v.DNSValue, v.AuthValue)
	c.AuthType = strings.ToLower(first(c.AuthType, v.Method))
	c.RecordType = strings.ToUpper(first(c.RecordType, v.Type))
	return nil
}

// AuthData is the data of Get Auth Info and Change Auth Type: the common
// name's challenge plus one per SAN (san absent, null, empty, or one
// object on a single-SAN order).
type AuthData struct {
	CommonName *Challenge       `json:"commonName"`
	SAN        List[*Challenge] `json:"san"`
}

// All returns the common name's challenge first, then the SANs', skipping
// absent ones.
func (a *AuthData) All() []Challenge {
	var out []Challenge
	if a.CommonName != nil {
		out = append(out, *a.CommonName)
	}
	for _, c := range a.SAN {
		if c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// AuthRequest is the body of PUT /ssl/v2/orders/{id}/auth.
type AuthRequest struct {
	AuthType           string `json:"authType"`
	SendAuthGuideEmail bool   `json:"sendAuthGuideEmail"`
}

// DCVStatus is the data of GET /ssl/v2/orders/{id}/dcv-status:
// {orderId, orderStatus, certStatus}.
type DCVStatus struct {
	OrderID     Text   `json:"orderId"`
	OrderStatus string `json:"orderStatus"`
	CertStatus  string `json:"certStatus"`
}

// Approver is one address Sectigo accepts for email DCV of Domain ("" when
// the reply does not say).
type Approver struct {
	Domain string `json:"domain,omitempty"`
	Email  string `json:"email"`
}

// Approvers is the data of the approver list. Its shape is not documented;
// accepted: ["a@x", ...]; [{"email":"a@x"}, ...]; [{"domain":"x",
// "emails":["a@x"]}, ...]; {"x":["a@x"]}; {"approverList":[...]} /
// {"approvers":[...]} / {"emails":[...]} wrapping any of these.
type Approvers []Approver

// UnmarshalJSON reads every accepted shape.
func (a *Approvers) UnmarshalJSON(b []byte) error {
	*a = nil
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		for _, it := range items {
			if err := a.item("", it); err != nil {
				return err
			}
		}
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("approver list: want an array or an object, got %.40s", b)
	}
	for _, k := range []string{"approverList", "approvers", "emails", "approverEmails"} {
		if raw, ok := obj[k]; ok {
			return a.UnmarshalJSON(raw)
		}
	}
	for domain, raw := range obj {
		if err := a.item(domain, raw); err != nil {
			return err
		}
	}
	return nil
}

// item adds one list entry: an address, an {email} / {domain, emails}
// object, or (below a domain key) a list of addresses.
func (a *Approvers) item(domain string, raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		*a = append(*a, Approver{Domain: domain, Email: s})
		return nil
	case len(raw) > 0 && raw[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return err
		}
		for _, it := range list {
			if err := a.item(domain, it); err != nil {
				return err
			}
		}
		return nil
	}
	var v struct {
		Domain string          `json:"domain"`
		Name   string          `json:"domainName"`
		Email  string          `json:"email"`
		Emails json.RawMessage `json:"emails"`
		List   json.RawMessage `json:"approverList"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("approver list entry: %w", err)
	}
	d := first(v.Domain, v.Name, domain)
	if v.Email != "" {
		*a = append(*a, Approver{Domain: d, Email: v.Email})
	}
	for _, more := range []json.RawMessage{v.Emails, v.List} {
		if len(more) > 0 {
			if err := a.item(d, more); err != nil {
				return err
			}
		}
	}
	return nil
}

// ApproverRequest is the body of Update Email Approver.
type ApproverRequest struct {
	ApproverEmail string `json:"approverEmail"`
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
