// Package simkit is what every CA simulator under sandbox/ shares, so that
// each simulator is only the CA's own API: serving on loopback for
// `dcvd sandbox <ca>` and `dcvd demo` (Serve, Start, Flags).
package simkit
