package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/dcvd/dcvd/internal/apiclient"
)

// emsCode finds a legacy EMS error code inside free text ("EMS-1082").
var emsCode = regexp.MustCompile(`\bEMS-\d+\b`)

// CodeExistingDomain is the code under which a 409's existingDomainId is
// reported (its Message is the ID).
const CodeExistingDomain = "existingDomainId"

// DecodeError reads CERTInext's error bodies into the CA's own codes and
// words (an apiclient.ErrorDecoder):
//
//	problem+json   {"type","title","status","detail","errors":[{field,message}],"existingDomainId"}
//	OAuth2         {"error":"invalid_client","error_description":"..."}
//	Spring default {"timestamp","status","error":"Bad Request","message":"...","path"}
//	plain text     any legacy EMS-nnnn code in it is kept
//
// The problem's title is the code and its detail the message; each field
// error is one more code; existingDomainId is reported as
// CodeExistingDomain.
func DecodeError(status int, body []byte) ([]apiclient.Code, error) {
	text := strings.TrimSpace(string(body))
	if text == "" {
		return nil, nil
	}
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil {
		if c := emsCode.FindString(text); c != "" {
			return []apiclient.Code{{Code: c, Message: oneLine(text)}}, nil
		}
		return nil, fmt.Errorf("error body is not JSON: %s", apiclient.Snippet(body))
	}
	var out []apiclient.Code
	switch {
	case p.Title != "" || p.Type != "":
		code := p.Title
		if code == "" {
			code = p.Type
		}
		out = append(out, apiclient.Code{Code: code, Message: p.Detail})
	case p.Error != "" && p.ErrorDescription != "":
		out = append(out, apiclient.Code{Code: p.Error, Message: p.ErrorDescription})
	case p.Error != "" || p.Message != "":
		out = append(out, apiclient.Code{Code: p.Error, Message: p.Message})
	default:
		return apiclient.DecodeGeneric(status, body)
	}
	for _, e := range p.Errors {
		out = append(out, apiclient.Code{Code: e.Field, Message: e.Message})
	}
	if p.ExistingDomainID != "" {
		out = append(out, apiclient.Code{Code: CodeExistingDomain, Message: string(p.ExistingDomainID)})
	}
	for _, m := range []string{p.Detail, p.Message, p.ErrorDescription} {
		if c := emsCode.FindString(m); c != "" {
			out = append(out, apiclient.Code{Code: c})
			break
		}
	}
	return out, nil
}

// ExistingDomainID returns the existingDomainId a 409 on a domain create
// carried ("" when none).
func ExistingDomainID(err error) string {
	var e *apiclient.Error
	if !errors.As(err, &e) {
		return ""
	}
	for _, c := range e.Codes {
		if c.Code == CodeExistingDomain {
			return c.Message
		}
	}
	return ""
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
