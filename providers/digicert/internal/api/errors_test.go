package api

import (
	"context"
	"github.com/dcvd/dcvd/internal/apiclient"
	"strings"
	"testing"
)

// Every error is one line with the request and DigiCert's list verbatim,
// and never the key; a check-dcv that failed after DigiCert may have acted
// (5xx, malformed answer) says so.
func TestErrorMessages(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   string
		code   string
	}{
		{"400 several", 400, `{"errors":[{"code":"invalid_dns_txt","message":"The DNS TXT record was not found."},{"code":"caa_check_failed|example.com","message":"CAA blocks"}]}`,
			`digicert: PUT /order/certificate/123/check-dcv: 400 invalid_dns_txt: "The DNS TXT record was not found."; caa_check_failed|example.com: "CAA blocks"`, "caa_check_failed"},
		{"401", 401, `{"errors":[{"code":"access_denied|invalid_api_key","message":"Invalid API key."}]}`,
			`digicert: PUT /order/certificate/123/check-dcv: 401 access_denied|invalid_api_key: "Invalid API key."`, "access_denied"},
		{"403", 403, `{"errors":[{"code":"access_denied|missing_permission","message":"No permission."}]}`,
			`digicert: PUT /order/certificate/123/check-dcv: 403 access_denied|missing_permission: "No permission."`, "access_denied"},
		{"404", 404, `{"errors":[{"code":"not_found|order","message":"Order not found."}]}`,
			`digicert: PUT /order/certificate/123/check-dcv: 404 not_found|order: "Order not found."`, "not_found"},
		{"429", 429, `{"errors":[{"code":"request_limit_exceeded","message":"Service unavailable, please limit request volume"}]}`,
			`digicert: PUT /order/certificate/123/check-dcv: 429 request_limit_exceeded: "Service unavailable, please limit request volume"`, "request_limit_exceeded"},
		{"500 no body", 500, ``, `digicert: PUT /order/certificate/123/check-dcv: 500 Internal Server Error (no error in body) (the call may have taken effect)`, ""},
		{"500 no list", 500, `{"message":"boom"}`, `digicert: PUT /order/certificate/123/check-dcv: 500 Internal Server Error: "{\"message\":\"boom\"}" (the call may have taken effect)`, ""},
		{"502 html", 502, `<html>Bad Gateway</html>`, `digicert: PUT /order/certificate/123/check-dcv: 502 malformed JSON error body: "<html>Bad Gateway</html>" (the call may have taken effect)`, ""},
		{"200 malformed", 200, `{"order_status": "pend`, `digicert: PUT /order/certificate/123/check-dcv: 200 malformed JSON response (unexpected end of JSON input): "{\"order_status\": \"pend" (the call may have taken effect)`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := serve(t, map[string]fixture{"PUT /order/certificate/123/check-dcv": {tc.status, tc.body, nil, ""}})
			c = New(Config{BaseURL: c.BaseURL(), Key: "secret-key-123", Retries: -1})
			_, err := c.CheckDCV(context.Background(), "123")
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-key-123") || strings.Contains(err.Error(), "\n") {
				t.Errorf("error leaks the key or spans lines: %s", err)
			}
			if tc.code != "" && !apiclient.HasCode(err, tc.code) {
				t.Errorf("IsCode(%q) false", tc.code)
			}
			if apiclient.StatusOf(err) != tc.status {
				t.Errorf("StatusOf = %d", apiclient.StatusOf(err))
			}
		})
	}
}

func TestTransportErrorHidesURL(t *testing.T) {
	c := New(Config{BaseURL: "http://127.0.0.1:1/services/v2", Key: "secret-key-123", Retries: -1})
	_, err := c.OrderValidation(context.Background(), "5")
	if err == nil || !strings.HasPrefix(err.Error(), "digicert: GET /order/certificate/5/validation: ") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v", err)
	}
}
