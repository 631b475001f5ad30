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
// JSON: {"orders": [{"common_name": "example.com", ...}]} or a bare array.
type OrdersFile struct {
	Order  []OrderSpec `toml:"order" json:"order"`
	Orders []OrderSpec `toml:"orders" json:"orders"`
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
	specs := append(f.Order, f.Orders...)
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
	return specs, nil
}
