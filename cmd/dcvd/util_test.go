package main

import (
	"os"
	"testing"
)

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
