package api

import (
	"context"
	"net/url"
	"sort"
	"strconv"
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
	if err := c.check(ctx, "/domain/"+url.PathEscape(domainID)+"/dcv/validate-token", &out); err != nil {
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

// DomainFilters narrow a list-domains request (§2.8). Empty fields are not
// sent.
type DomainFilters struct {
	// DCVMethod: "email", "dns-txt-token", "dns-cname-token", "http-token",
	// "http-token-static".
	DCVMethod string
	// Status: "active" or "inactive" (the domain's own state, not its DCV).
	Status string
	// Search matches the name from its start; prefix "%" for "contains".
	Search string
	// IncludeValidation adds validations[] to every domain.
	IncludeValidation bool
	// ExpirationTime asks for dcv_expiration as UTC ISO times instead of
	// Mountain Time dates (include_dcv_expiration_time, spec §5.2).
	ExpirationTime bool
}

func (f DomainFilters) query() url.Values {
	q := url.Values{}
	if f.DCVMethod != "" {
		q.Set("filters[dcv_method]", f.DCVMethod)
	}
	if f.Status != "" {
		q.Set("filters[status]", f.Status)
	}
	if f.Search != "" {
		q.Set("filters[search]", f.Search)
	}
	if f.IncludeValidation {
		q.Set("include_validation", "true")
	}
	if f.ExpirationTime {
		q.Set("include_dcv_expiration_time", "true")
	}
	return q
}

// ListDomains returns one page of the account's domains (GET /domain).
// limit 0 leaves the page size to DigiCert.
func (c *Client) ListDomains(ctx context.Context, f DomainFilters, offset, limit int) (*DomainList, error) {
	q := f.query()
	q.Set("offset", strconv.Itoa(offset))
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out DomainList
	if err := c.do(ctx, "GET", "/domain", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AllDomains pages through every domain matching f, pageSize at a time,
// until page.total is reached, or a page comes back empty or brings no
// domain not seen before (in case DigiCert's total is off).
func (c *Client) AllDomains(ctx context.Context, f DomainFilters, pageSize int) ([]Domain, error) {
	var all []Domain
	err := c.EachDomain(ctx, f, pageSize, func(page []Domain) error {
		all = append(all, page...)
		return nil
	})
	return all, err
}

// EachDomain is AllDomains handing over a page at a time, so that an
// account of 100,000 domains is never held whole in the API's shape.
func (c *Client) EachDomain(ctx context.Context, f DomainFilters, pageSize int, fn func([]Domain) error) error {
	offset := 0
	// A page that brings no domain not seen before ends the paging, as in
	// AllOrders: a server ignoring offset would otherwise be paged until
	// the absurd total it reports. A domain is known by ID and name (an
	// entry without an ID still counts once).
	type key struct {
		id   ID
		name string
	}
	seen := map[key]bool{}
	for {
		page, err := c.ListDomains(ctx, f, offset, pageSize)
		if err != nil {
			return err
		}
		fresh := page.Domains[:0:0]
		for _, d := range page.Domains {
			if k := (key{d.ID, d.Name}); !seen[k] {
				seen[k] = true
				fresh = append(fresh, d)
			}
		}
		if len(fresh) > 0 {
			if err := fn(fresh); err != nil {
				return err
			}
		}
		offset += len(page.Domains)
		if len(fresh) == 0 || offset >= page.Page.Total {
			return nil
		}
	}
}
