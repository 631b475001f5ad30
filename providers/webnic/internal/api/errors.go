package api

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/dcvd/dcvd/internal/apiclient"
)

// DecodeError is the apiclient.ErrorDecoder for WebNIC bodies:
//
//   - the envelope: error.subCode with error.message first (RES0004,
//     RES5001, DOM2400...), then each fieldErrors / validationErrors entry
//     (array or single object) as field: message; without an error member,
//     the top-level code and message;
//   - a Spring Boot error page ({"status":404,"error":"Not Found",
//     "message":"No static resource ...","path":...}), seen for wrong paths.
//
// A body that is not JSON (a proxy's HTML page) is an error, which the
// caller reports with a snippet of the body.
func DecodeError(_ int, body []byte) ([]apiclient.Code, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		// A Spring error page has "error" as a string.
		var spring struct {
			Status  Int    `json:"status"`
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if err2 := json.Unmarshal(body, &spring); err2 == nil && spring.Error != "" {
			return []apiclient.Code{{Code: spring.Error, Message: spring.Message}}, nil
		}
		return nil, fmt.Errorf("not a WebNIC reply: %s", apiclient.Snippet(body))
	}
	return envelopeCodes(&env), nil
}

// envelopeCodes lists the codes of a failure envelope.
func envelopeCodes(e *Envelope) []apiclient.Code {
	var out []apiclient.Code
	if e.Error != nil && (e.Error.SubCode != "" || e.Error.Message != "") {
		out = append(out, apiclient.Code{Code: string(e.Error.SubCode), Message: e.Error.Message})
	}
	for _, f := range append(append([]FieldError(nil), e.FieldErrors...), e.ValidationErrors...) {
		out = append(out, apiclient.Code{Code: f.Field, Message: f.Text()})
	}
	if len(out) == 0 && (e.Code != "" || e.Message != "") && !e.OK() {
		out = append(out, apiclient.Code{Code: string(e.Code), Message: e.Message})
	}
	return out
}
