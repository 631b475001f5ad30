// Package legobench compares dcvd's propagation check (verify) with lego
// v4's dns01 precheck at its defaults, on the same loopback topology and in
// the same run. Only its test file imports lego, so the dcvd binary never
// links it. Run scripts/bench-verify.sh.
package legobench
