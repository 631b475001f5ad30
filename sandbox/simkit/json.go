package simkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ReadJSON decodes a request body of at most 1 MiB into v. An empty (or
// blank) body leaves v as it is.
func ReadJSON(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return json.Unmarshal(data, v)
}

// Page returns items[offset:offset+limit] clamped to the slice.
func Page[T any](items []T, offset, limit int) []T {
	if offset >= len(items) || limit <= 0 {
		return nil
	}
	return items[offset:min(len(items), offset+limit)]
}

// IntParam reads an integer query parameter (def when absent). A value that
// is not a non-negative integer is an error naming the parameter.
func IntParam(r *http.Request, name string, def int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: %q is not a non-negative integer", name, s)
	}
	return n, nil
}
