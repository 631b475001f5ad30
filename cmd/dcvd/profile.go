package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
)

// startProfile writes a CPU profile of the whole process to the file named
// by DCVD_CPUPROFILE, if set, and a heap profile at exit to
// DCVD_HEAPPROFILE: how BENCHMARKS.md profiles real `dcvd run` processes.
// "%p" in either name is replaced by the process ID (several instances).
// The returned function stops and flushes them.
func startProfile() func() {
	pid := strconv.Itoa(os.Getpid())
	cpu := strings.ReplaceAll(os.Getenv("DCVD_CPUPROFILE"), "%p", pid)
	heap := strings.ReplaceAll(os.Getenv("DCVD_HEAPPROFILE"), "%p", pid)
	var f *os.File
	if cpu != "" {
		var err error
		if f, err = os.Create(cpu); err != nil {
			fmt.Fprintln(os.Stderr, "dcvd: DCVD_CPUPROFILE:", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "dcvd: DCVD_CPUPROFILE:", err)
			f.Close()
			f = nil
		}
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
		if heap != "" {
			if h, err := os.Create(heap); err == nil {
				pprof.Lookup("heap").WriteTo(h, 0)
				h.Close()
			}
		}
	}
}
