// Package wire holds the JSON field types every CA's wire types need, so
// that each CA's internal/api package only describes its own shapes.
package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Text is a JSON scalar read as text: a string without surrounding
// space, a number in its
// decimal form, true/false as their literal, null as "". CAs send IDs as
// numbers in one response and strings in the next, and flags as "1" or 1;
// an object or array is an error.
type Text string

// UnmarshalJSON accepts any scalar.
func (t *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Text(strings.TrimSpace(s))
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return fmt.Errorf("want a string or a number, got %.40s", b)
	default:
		*t = Text(b)
	}
	return nil
}

// Time parses the text as an RFC 3339 timestamp (zero when empty or
// unreadable).
func (t Text) Time() time.Time {
	v, err := time.Parse(time.RFC3339, string(t))
	if err != nil {
		return time.Time{}
	}
	return v
}

// String returns the text.
func (t Text) String() string { return string(t) }

// Int returns the text as an integer (0 when it is not one).
func (t Text) Int() int64 {
	n, _ := strconv.ParseInt(string(t), 10, 64)
	return n
}
