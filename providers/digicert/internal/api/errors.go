package api

import (
	"encoding/json"
	"fmt"

	"github.com/dcvd/dcvd/internal/apiclient"
)

// DecodeError reads DigiCert's error envelope,
//
//	{"errors":[{"code":"invalid_dns_txt","message":"..."}]}
//
// into the CA's codes, in the order DigiCert sent them. A body without an
// error list gives no codes; a body that is not JSON (a proxy's HTML page)
// is an error, which the client reports with a snippet of the body.
func DecodeError(_ int, body []byte) ([]apiclient.Code, error) {
	var env struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if len(body) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("malformed JSON error body: %s", apiclient.Snippet(body))
	}
	codes := make([]apiclient.Code, 0, len(env.Errors))
	for _, e := range env.Errors {
		codes = append(codes, apiclient.Code{Code: e.Code, Message: e.Message})
	}
	return codes, nil
}
