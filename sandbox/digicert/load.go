package digicert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// OrdersFile is the file format of `dcvd sandbox digicert --orders FILE`.
//
// TOML:
//
//	[[order]]
//	common_name = "example.com"
//	dns_names = ["*.example.com"]
//	method = "dns-txt-token"      # or "dns-cname-token", "email"
//
//	[[domain]]                    # an account domain awaiting prevalidation
//	name = "example.org"
//	method = "dns-txt-token"      # or "dns-cname-token", "email"
//	validated = false
//
// JSON: {"orders": [{"common_name": "example.com", ...}], "domains": [...]}
// or a bare array of orders.
type OrdersFile struct {
	Order   []OrderSpec  `toml:"order" json:"order"`
	Orders  []OrderSpec  `toml:"orders" json:"orders"`
	Domain  []DomainSpec `toml:"domain" json:"domain"`
	Domains []DomainSpec `toml:"domains" json:"domains"`
}

// AllOrders returns the orders of both spellings.
func (f *OrdersFile) AllOrders() []OrderSpec {
	return append(append([]OrderSpec(nil), f.Order...), f.Orders...)
}

// AllDomains returns the domains of both spellings.
func (f *OrdersFile) AllDomains() []DomainSpec {
	return append(append([]DomainSpec(nil), f.Domain...), f.Domains...)
}

// Seed adds every order and domain of f to s: domains first, so an order
// naming a seeded domain shares its record.
func (f *OrdersFile) Seed(s *Server) {
	s.AddDomains(f.AllDomains())
	s.AddOrders(f.AllOrders())
}

// LoadFile reads orders and domains from a TOML or JSON file (see
// OrdersFile); Seed puts them into a simulator.
func LoadFile(path string) (*OrdersFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("orders file: %w", err)
	}
	f, err := ParseFile(data, filepath.Ext(path))
	if err != nil {
		return nil, fmt.Errorf("orders file %s: %w", path, err)
	}
	return f, nil
}

// LoadOrders reads order specs from a TOML or JSON file (by extension;
// content sniffing when the extension is neither).
func LoadOrders(path string) ([]OrderSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("orders file: %w", err)
	}
	specs, err := ParseOrders(data, filepath.Ext(path))
	if err != nil {
		return nil, fmt.Errorf("orders file %s: %w", path, err)
	}
	return specs, nil
}

// ParseOrders decodes order specs; ext (".toml", ".json" or "") picks the
// format, "" sniffs it. Unknown keys are errors.
func ParseOrders(data []byte, ext string) ([]OrderSpec, error) {
	f, err := ParseFile(data, ext)
	if err != nil {
		return nil, err
	}
	return f.AllOrders(), nil
}

// ParseFile decodes an orders file with its domains; ext as in ParseOrders.
func ParseFile(data []byte, ext string) (*OrdersFile, error) {
	trimmed := bytes.TrimSpace(data)
	isJSON := strings.EqualFold(ext, ".json") ||
		(!strings.EqualFold(ext, ".toml") && len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '['))
	var f OrdersFile
	if isJSON {
		if len(trimmed) > 0 && trimmed[0] == '[' {
			dec := json.NewDecoder(bytes.NewReader(trimmed))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&f.Orders); err != nil {
				return nil, err
			}
		} else {
			dec := json.NewDecoder(bytes.NewReader(trimmed))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&f); err != nil {
				return nil, err
			}
		}
	} else {
		md, err := toml.Decode(string(data), &f)
		if err != nil {
			return nil, err
		}
		if und := md.Undecoded(); len(und) > 0 {
			return nil, fmt.Errorf("unknown key %s", und[0])
		}
	}
	specs := f.AllOrders()
	for i, o := range specs {
		if o.CommonName == "" && len(o.DNSNames) == 0 {
			return nil, fmt.Errorf("order %d: needs common_name or dns_names", i+1)
		}
		switch o.Method {
		case "", "email", "dns-txt-token", "dns-cname-token", "http-token":
		default:
			return nil, fmt.Errorf("order %d (%s): method %q: want email, dns-txt-token or dns-cname-token", i+1, o.CommonName, o.Method)
		}
	}
	for i, d := range f.AllDomains() {
		if baseName(d.Name) == "" {
			return nil, fmt.Errorf("domain %d: needs name", i+1)
		}
		switch d.Method {
		case "", "email", "dns-txt-token", "dns-cname-token", "http-token":
		default:
			return nil, fmt.Errorf("domain %d (%s): method %q: want email, dns-txt-token or dns-cname-token", i+1, d.Name, d.Method)
		}
	}
	return &f, nil
}
