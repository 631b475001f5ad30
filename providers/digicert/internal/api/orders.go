package api

import (
	"context"
	"net/url"
	"strconv"
)

// Order-level DCV calls. Paths follow §2 of the spec; {id} is the order ID.

// ListOrders returns one page of orders. status filters by order status
// ("" = all); limit 0 leaves the page size to DigiCert.
func (c *Client) ListOrders(ctx context.Context, status string, offset, limit int) (*OrderList, error) {
	q := url.Values{}
	if status != "" {
		q.Set("filters[status]", status)
	}
	q.Set("offset", strconv.Itoa(offset))
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out OrderList
	if err := c.do(ctx, "GET", "/order/certificate", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AllOrders pages through every order with the given status, pageSize at a
// time. Paging is bounded by what the pages hold, not by page.total alone (a
// CA reporting an absurd total would otherwise be paged until the timeout):
// it stops at page.total, at an empty or short page, and at a page that
// brings no order not seen before (a server ignoring offset, or a page of
// nothing but malformed entries, which cannot be told apart). A page whose
// read fails for a transient reason (5xx, a truncated or malformed body,
// a dropped connection) is read again by apiclient, like every GET
// (backoff_retries times).
func (c *Client) AllOrders(ctx context.Context, status string, pageSize int) ([]Order, error) {
	var all []Order
	seen := map[ID]bool{}
	offset := 0
	for {
		page, err := c.ListOrders(ctx, status, offset, pageSize)
		if err != nil {
			return all, err
		}
		fresh := 0
		for _, o := range page.Orders {
			if o.ID == "" || !seen[o.ID] {
				fresh++
				seen[o.ID] = true
				all = append(all, o)
			}
		}
		if page.Skipped > 0 {
			c.log.Warn("digicert: orders with a malformed id or shape skipped", "offset", offset, "skipped", page.Skipped)
		}
		n := len(page.Orders) + page.Skipped
		offset += n
		short := pageSize > 0 && n < pageSize
		if n == 0 || fresh == 0 || short || offset >= page.Page.Total {
			return all, nil
		}
	}
}

// OrderInfo returns GET /order/certificate/{id}.
func (c *Client) OrderInfo(ctx context.Context, orderID string) (*Order, error) {
	var out Order
	if err := c.do(ctx, "GET", "/order/certificate/"+url.PathEscape(orderID), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OrderValidation returns the per-name DCV state of an order.
func (c *Client) OrderValidation(ctx context.Context, orderID string) (*OrderValidation, error) {
	var out OrderValidation
	if err := c.do(ctx, "GET", "/order/certificate/"+url.PathEscape(orderID)+"/validation", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RandomValue returns the order random value, minting a new one when the
// current one expired. DigiCert answers with an error when there is nothing
// to hand out (for example every name is already validated).
func (c *Client) RandomValue(ctx context.Context, orderID string) (*RandomValue, error) {
	var out RandomValue
	if err := c.do(ctx, "PUT", "/order/certificate/"+url.PathEscape(orderID)+"/dcv-random-value", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetOrderDCVMethod switches a pending order's DCV method. For a token
// method DigiCert returns the random value; for email the body is empty (200
// or 204) and the result is nil.
func (c *Client) SetOrderDCVMethod(ctx context.Context, orderID, method string) (*RandomValue, error) {
	var out RandomValue
	body := map[string]string{"dcv_method": method}
	if err := c.do(ctx, "PUT", "/order/certificate/"+url.PathEscape(orderID)+"/dcv-method", nil, body, &out); err != nil {
		return nil, err
	}
	if out.DCVRandomValue == "" {
		return nil, nil
	}
	return &out, nil
}

// CheckDCV asks DigiCert to check the order's DCV now. A 400 invalid_dns_txt
// (an *Error, see IsCode) means the record was not found for at least one
// name. The result may lack DNSNameValidations (legacy shape) and is
// zero-valued for an empty 200/204 body. It is sent once: a timeout, 5xx
// or 429 is returned, not repeated (the caller reads OrderValidation before
// it asks again).
func (c *Client) CheckDCV(ctx context.Context, orderID string) (*CheckDCVResult, error) {
	var out CheckDCVResult
	if err := c.check(ctx, "/order/certificate/"+url.PathEscape(orderID)+"/check-dcv", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ResendEmails resends the order's DCV emails. emails maps a domain on the
// order to the address that should receive its approval email; nil or empty
// lets DigiCert mail every allowed recipient.
func (c *Client) ResendEmails(ctx context.Context, orderID string, emails map[string]string) error {
	type approval struct {
		Domain string `json:"domain"`
		Email  string `json:"email"`
	}
	var body any
	if len(emails) > 0 {
		list := make([]approval, 0, len(emails))
		for _, d := range sortedKeys(emails) {
			list = append(list, approval{Domain: d, Email: emails[d]})
		}
		body = map[string]any{"domain_approval_emails": list}
	}
	return c.do(ctx, "PUT", "/order/certificate/"+url.PathEscape(orderID)+"/resend-emails", nil, body, nil)
}

// Me returns the user the key belongs to (GET /user/me); DigiCert suggests
// it to explain 403 access_denied|missing_permission.
func (c *Client) Me(ctx context.Context) (*User, error) {
	var out User
	if err := c.do(ctx, "GET", "/user/me", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
