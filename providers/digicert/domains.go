package digicert

import (
	"context"
	"net/url"
	"sort"
)

// Domain-level (prevalidation) DCV calls. {id} is the domain ID, as found in
// dns_name_validations[].domain_id of an order.

// DomainInfo returns GET /domain/{id}?include_dcv=true&include_validation=true:
// the domain with its DCV token and validations.
func (c *Client) DomainInfo(ctx context.Context, domainID string) (*Domain, error) {
	q := url.Values{"include_dcv": {"true"}, "include_validation": {"true"}}
	var out Domain
	if err := c.do(ctx, "GET", "/domain/"+url.PathEscape(domainID), q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetDomainDCVMethod changes a domain's DCV method. DigiCert answers {} when
// the method did not change, validation emails when switching to email
// ({} in the legacy docs), and a dcv_token (with verification_value for
// dns-cname-token) for the token methods; every shape decodes into the
// result, whose String prints what the user needs.
func (c *Client) SetDomainDCVMethod(ctx context.Context, domainID, method string) (DCVMethodResult, error) {
	var out DCVMethodResult
	body := map[string]string{"dcv_method": method}
	err := c.do(ctx, "PUT", "/domain/"+url.PathEscape(domainID)+"/dcv/method", nil, body, &out)
	return out, err
}

// NewDomainToken mints a new domain random value. This invalidates the
// previous domain token (a value already in DNS stops working); the order
// random value is not affected. The domain must use a token method, else
// DigiCert answers 400 invalid_dcv_method.
func (c *Client) NewDomainToken(ctx context.Context, domainID string) (*DomainToken, error) {
	var out DomainToken
	if err := c.do(ctx, "POST", "/domain/"+url.PathEscape(domainID)+"/dcv/token", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ValidateDomainToken asks DigiCert to check the domain's DCV now. A 400
// invalid_dns_txt means the value was not found. Status is "active" once
// validated ("inactive" otherwise); an empty body gives an empty Status.
func (c *Client) ValidateDomainToken(ctx context.Context, domainID string) (*DomainCheck, error) {
	var out DomainCheck
	if err := c.do(ctx, "PUT", "/domain/"+url.PathEscape(domainID)+"/dcv/validate-token", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
