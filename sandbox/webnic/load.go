package webnic

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// OrdersFile is the file `dcvd sandbox webnic --orders FILE` seeds from:
// TOML [[order]] tables, or JSON {"order": [...]} when the file name ends
// in .json. Keys are OrderSpec's toml/json tags.
//
//	[[order]]
//	common_name = "example.com"
//	sans = ["*.example.com"]
//	record_type = "CNAME"          # default TXT
//	auth_type = "email"            # default dns; dcvd switches it to dns
//
//	[[order]]
//	common_name = "old.example.com"
//	order_status = "COMPLETED"     # finished: dcvd must leave it alone
type OrdersFile struct {
	Order []OrderSpec `toml:"order" json:"order"`
}

// LoadOrders reads and checks an orders file. Unknown keys are errors.
func LoadOrders(path string) ([]OrderSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("orders file: %w", err)
	}
	var f OrdersFile
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&f)
	} else {
		var md toml.MetaData
		md, err = toml.Decode(string(data), &f)
		if err == nil && len(md.Undecoded()) > 0 {
			err = fmt.Errorf("unknown key %s", md.Undecoded()[0])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("orders file %s: %w", path, err)
	}
	for i, o := range f.Order {
		if err := o.check(); err != nil {
			return nil, fmt.Errorf("orders file %s: order %d: %w", path, i+1, err)
		}
	}
	return f.Order, nil
}

// check validates a spec's enumerations.
func (o OrderSpec) check() error {
	if baseName(o.CommonName) == "" {
		return fmt.Errorf("common_name is required")
	}
	switch strings.ToLower(o.AuthType) {
	case "", "dns", "email", "file":
	default:
		return fmt.Errorf("auth_type %q: want dns, email or file", o.AuthType)
	}
	switch strings.ToUpper(o.RecordType) {
	case "", "TXT", "CNAME":
	default:
		return fmt.Errorf("record_type %q: want TXT or CNAME", o.RecordType)
	}
	return nil
}
