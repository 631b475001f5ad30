//go:build tools

// Package legocli pins the upstream lego CLI (github.com/go-acme/lego/v4/cmd/lego)
// for dcvd's tests. It holds no code of its own: see README.md.
package legocli

import _ "github.com/go-acme/lego/v4/cmd/lego"
