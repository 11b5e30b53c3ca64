// park_memory peer (benches/park_memory.rs): park N goroutines on one
// channel, report VmRSS growth per goroutine, then close the channel and
// report the time per release (close -> every goroutine finished, / N).
//
//	GOPROXY=off GOTOOLCHAIN=local go run . [-n 1000000]
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) the process has used so far.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		panic(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

func rssBytes() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		panic(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				panic(err)
			}
			return kb * 1024
		}
	}
	panic("no VmRSS")
}

func main() {
	n := flag.Int("n", 1_000_000, "goroutines to park")
	flag.Parse()
	ch := make(chan struct{})
	var parked, finished sync.WaitGroup
	before := rssBytes()
	for i := 0; i < *n; i++ {
		parked.Add(1)
		finished.Add(1)
		go func() {
			parked.Done()
			<-ch
			finished.Done()
		}()
	}
	parked.Wait()
	time.Sleep(200 * time.Millisecond)
	after := rssBytes()
	start, cpuStart := time.Now(), cpuTime()
	close(ch)
	finished.Wait()
	release, cpu := time.Since(start), cpuTime()-cpuStart
	fmt.Printf("park_memory/go: %d parked goroutines: %.0f bytes RSS each; release %.1f ns each (%.1f ns CPU)\n",
		*n, float64(after-before)/float64(*n), float64(release.Nanoseconds())/float64(*n),
		float64(cpu.Nanoseconds())/float64(*n))
}
