package wire

import (
	"encoding/json"
	"testing"
)

func TestText(t *testing.T) {
	for in, want := range map[string]string{`123`: "123", `" 42 "`: "42", `null`: "", `true`: "true", `"abc"`: "abc", `1.5`: "1.5"} {
		var v Text
		if err := json.Unmarshal([]byte(in), &v); err != nil || string(v) != want {
			t.Errorf("%s: %q, %v; want %q", in, v, err, want)
		}
	}
	for _, bad := range []string{`{}`, `[1]`} {
		var v Text
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s accepted as %q", bad, v)
		}
	}
	if Text("77").Int() != 77 || Text("x").Int() != 0 {
		t.Error("Int")
	}
}
