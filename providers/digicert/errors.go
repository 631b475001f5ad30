package digicert

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// APIError is one entry of DigiCert's error list.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is a failed API request: an HTTP status of 400 or more, or a
// response body that could not be decoded. Its message is one line holding
// the request (method and path, never the key) and DigiCert's error list
// verbatim:
//
//	digicert: PUT /order/certificate/123/check-dcv: 400 invalid_dns_txt: "..."
type Error struct {
	Method     string
	Path       string // path below the base URL, without the query
	StatusCode int
	// Errors is DigiCert's error list, in the order it was sent. Empty when
	// the body held none (common on 5xx) or could not be decoded.
	Errors []APIError
	// Detail says what went wrong when there is no error list ("malformed
	// JSON ...", "empty body").
	Detail string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digicert: %s %s: ", e.Method, e.Path)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "%d", e.StatusCode)
	}
	if len(e.Errors) > 0 {
		for i, ae := range e.Errors {
			if i > 0 {
				b.WriteString(";")
			}
			fmt.Fprintf(&b, " %s: %q", ae.Code, ae.Message)
		}
	} else {
		if e.StatusCode != 0 {
			b.WriteString(" ")
			if t := http.StatusText(e.StatusCode); t != "" && e.Detail == "" {
				b.WriteString(t + " (no error list)")
			}
		}
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Has reports whether DigiCert returned an error whose code is code or starts
// with code+"|" (codes such as "not_found|order" carry a suffix).
func (e *Error) Has(code string) bool {
	for _, ae := range e.Errors {
		if ae.Code == code || strings.HasPrefix(ae.Code, code+"|") {
			return true
		}
	}
	return false
}

// Message returns the messages of the error list joined by "; ", or the
// whole error when there is no list. It is the CA's own words for a
// providers.Outcome reason.
func (e *Error) Message() string {
	var parts []string
	for _, ae := range e.Errors {
		parts = append(parts, ae.Code+": "+ae.Message)
	}
	if len(parts) == 0 {
		return e.Error()
	}
	return strings.Join(parts, "; ")
}

// IsCode reports whether err is (or wraps) an *Error carrying code (prefix
// match as in Error.Has).
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Has(code)
}

// StatusCode returns the HTTP status of an *Error in err's chain, or 0.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// decodeError builds the *Error for a response with status >= 400. It never
// fails: a missing or malformed body is described in Detail.
func decodeError(method, path string, status int, body []byte) *Error {
	e := &Error{Method: method, Path: path, StatusCode: status}
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return e
	}
	var env struct {
		Errors []APIError `json:"errors"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		e.Detail = "malformed JSON error body: " + snippet(body)
		return e
	}
	e.Errors = env.Errors
	if len(e.Errors) == 0 {
		e.Detail = "no error list in body: " + snippet(body)
	}
	return e
}

// snippet quotes at most 120 bytes of a body for an error message.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	const max = 120
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
