package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// startProfile writes a CPU profile of the whole process to the file named
// by DCVD_CPUPROFILE, if set, and a heap profile at the heap's peak to
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
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if heap == "" {
			return
		}
		// The heap profile is written whenever the heap in use has grown
		// a tenth past the last profile's: the file ends as the profile of
		// the peak, not of the exit.
		var peak uint64
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak+peak/10 {
				peak = ms.HeapInuse
				if h, err := os.Create(heap); err == nil {
					pprof.Lookup("heap").WriteTo(h, 0)
					h.Close()
				}
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
	}
}
