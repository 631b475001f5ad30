package testenv

import (
	"os"
	"strconv"
	"strings"
)

// PeakRSS is a process's own peak resident set size (VmHWM) in bytes, read
// from /proc/<pid>/status; pid "self" is the calling process. It is 0 when
// the process is gone or the line is missing. Benchmarks report it instead
// of wait4's ru_maxrss: Go starts a child with vfork, and at exec the
// kernel keeps the larger of the child's and the parent's peak, so a child
// of a large test process would report the test process's size.
func PeakRSS(pid string) int64 {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
