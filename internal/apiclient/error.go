package apiclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Code is one error a CA returned: its code and message, verbatim.
type Code struct {
	Code    string
	Message string
}

// Error is a failed API call. Its message is one line:
//
//	webnic: POST /ssl/v2/orders/search: 403 RES0004: "IP address not allowed"
//	digicert: GET /order/certificate/12: 503 Service Unavailable (no error in body)
//	certinext: POST /oauth/token: connection refused
type Error struct {
	Service string
	Method  string
	Path    string // below the base URL, without the query
	Status  int    // HTTP status; 0 when no response was read
	Codes   []Code // the CA's own errors, in the order it sent them
	Detail  string // what went wrong when there are no codes ("malformed JSON ...")
	Err     error  // transport or context cause, when there was no response
	// Ambiguous: a call that is not idempotent failed after it may have
	// reached the CA; it may have taken effect.
	Ambiguous bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s: ", e.Service, e.Method, e.Path)
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status))
	}
	switch {
	case len(e.Codes) > 0:
		for i, c := range e.Codes {
			if i > 0 {
				b.WriteString(";")
			}
			switch {
			case c.Code != "" && c.Message != "":
				fmt.Fprintf(&b, " %s: %q", c.Code, c.Message)
			case c.Code != "":
				fmt.Fprintf(&b, " %s", c.Code)
			default:
				fmt.Fprintf(&b, " %q", c.Message)
			}
		}
		if e.Detail != "" {
			b.WriteString(" (" + e.Detail + ")")
		}
	case e.Detail != "":
		if e.Status != 0 {
			b.WriteString(" ")
		}
		b.WriteString(e.Detail)
	case e.Err != nil:
		if e.Status != 0 {
			b.WriteString(" ")
		}
		b.WriteString(oneLine(e.Err.Error()))
	case e.Status != 0:
		fmt.Fprintf(&b, " %s (no error in body)", http.StatusText(e.Status))
	}
	if e.Ambiguous {
		b.WriteString(" (the call may have taken effect)")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Has reports whether the CA returned code, exactly or as a prefix followed
// by "|" (DigiCert's "not_found|order").
func (e *Error) Has(code string) bool {
	for _, c := range e.Codes {
		if c.Code == code || strings.HasPrefix(c.Code, code+"|") {
			return true
		}
	}
	return false
}

// Message returns the CA's own words: "code: message; ..." or, without
// codes, the whole error line. Used as an Outcome reason.
func (e *Error) Message() string {
	var parts []string
	for _, c := range e.Codes {
		switch {
		case c.Code != "" && c.Message != "":
			parts = append(parts, c.Code+": "+c.Message)
		case c.Code != "":
			parts = append(parts, c.Code)
		default:
			parts = append(parts, c.Message)
		}
	}
	if len(parts) == 0 {
		return e.Error()
	}
	return strings.Join(parts, "; ")
}

// StatusOf returns the HTTP status of the *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// HasCode reports whether err carries an *Error with code (see Error.Has).
func HasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Has(code)
}

// ErrorDecoder extracts a CA's error codes from the body of a failed
// response. It returns no codes and no error when the body holds none; an
// error says the body could not be read as the CA's error format.
type ErrorDecoder func(status int, body []byte) ([]Code, error)

// DecodeGeneric reads the error shapes the CAs and registrars dcvd talks to
// use, in this order:
//
//	{"errors":[{"code":"...","message":"..."}]}            DigiCert, many REST APIs
//	{"error":{"code":"...","subCode":"...","message":"..."}} WebNIC-style envelopes
//	{"error":"invalid_client","error_description":"..."}    OAuth2 (RFC 6749 §5.2)
//	{"type":"...","title":"...","detail":"..."}              problem+json (RFC 9457)
//	{"code":"...","message":"..."} / {"message":"..."} / {"error":"..."}
//
// Codes and messages may be strings or numbers.
func DecodeGeneric(_ int, body []byte) ([]Code, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("malformed JSON error body: %s", Snippet(body))
	}
	if raw, ok := m["errors"]; ok {
		var list []map[string]json.RawMessage
		if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
			var out []Code
			for _, item := range list {
				c := codeOf(item)
				if c != (Code{}) {
					out = append(out, c)
				}
			}
			if len(out) > 0 {
				return out, nil
			}
		}
	}
	if raw, ok := m["error"]; ok {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) == nil {
			if c := codeOf(obj); c != (Code{}) {
				return []Code{c}, nil
			}
		} else if s := scalar(raw); s != "" {
			return []Code{{Code: s, Message: scalar(m["error_description"])}}, nil
		}
	}
	if scalar(m["type"]) != "" || scalar(m["title"]) != "" {
		code := scalar(m["title"])
		if t := scalar(m["type"]); t != "" && t != "about:blank" {
			code = t
		}
		msg := scalar(m["detail"])
		if msg == "" {
			msg = scalar(m["title"])
		}
		return []Code{{Code: code, Message: msg}}, nil
	}
	if c := codeOf(m); c != (Code{}) {
		return []Code{c}, nil
	}
	return nil, nil
}

// codeOf reads code/subCode/message-like keys of one error object.
func codeOf(m map[string]json.RawMessage) Code {
	var c Code
	for _, k := range []string{"code", "errorCode", "error_code"} {
		if s := scalar(m[k]); s != "" {
			c.Code = s
			break
		}
	}
	if sub := scalar(m["subCode"]); sub != "" {
		if c.Code == "" {
			c.Code = sub
		} else {
			c.Code += "/" + sub
		}
	}
	for _, k := range []string{"message", "description", "detail", "error_description", "msg"} {
		if s := scalar(m[k]); s != "" {
			c.Message = s
			break
		}
	}
	return c
}

// scalar returns a JSON string or number as text ("" otherwise).
func scalar(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// Snippet quotes at most 120 bytes of a body for an error message.
func Snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	const max = 120
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
