package duration

import (
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestDurationTOML(t *testing.T) {
	var v struct {
		Timeout Duration `toml:"timeout"`
		Unset   Duration `toml:"unset"`
	}
	if _, err := toml.Decode(`timeout = "1m30s"`, &v); err != nil {
		t.Fatal(err)
	}
	if v.Timeout.D() != 90*time.Second || v.Unset.Or(time.Second) != time.Second || v.Timeout.Or(time.Second) != 90*time.Second {
		t.Fatalf("decoded %v / %v", v.Timeout, v.Unset)
	}
	for _, bad := range []string{`timeout = "10"`, `timeout = "-1s"`, `timeout = "soon"`} {
		if _, err := toml.Decode(bad, &v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if b, _ := Duration(10 * time.Second).MarshalText(); string(b) != "10s" {
		t.Fatalf("MarshalText = %s", b)
	}
}
