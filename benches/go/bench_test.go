// Go peer for the spawn_join, yield and chan_pingpong workloads of rt's
// benchmarks (see docs/benchmarks.md). The parameters match benches/lib.rs.
//
// Run offline:
//
//	GOPROXY=off GOTOOLCHAIN=local go test -bench . -benchtime 5x
//
// Each benchmark reports its workload metric (ns/task, ns/yield,
// ns/roundtrip) with
// b.ReportMetric; ns/op is the time of one whole workload run.
package rtbench

import (
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	spawnTasks = 200_000   // tasks per spawn_join run
	spawnBatch = 1_000     // batch size of the batched variant
	yields     = 1_000_000 // yields per task in the yield workload
	spawnProcs = 2         // spawn_join runs on 2 workers for every peer
	roundTrips = 500_000   // round trips per chan_pingpong run
)

// spawnJoin spawns n goroutines whose body is empty apart from signalling
// completion, and only then waits for all of them: every task is spawned
// before any is joined, like keeping n join handles and joining them in turn.
func spawnJoin(n int) {
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
}

// BenchmarkSpawnJoin measures spawn + run + join of 200,000 empty goroutines
// spawned all before the join, on GOMAXPROCS=2. Metric: ns per task.
func BenchmarkSpawnJoin(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(spawnProcs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		spawnJoin(spawnTasks)
	}
	b.ReportMetric(perUnit(b, spawnTasks), "ns/task")
}

// BenchmarkSpawnJoinBatch1000 is the same 200,000 tasks in batches of 1,000:
// spawn 1,000, join them, repeat. Metric: ns per task.
func BenchmarkSpawnJoinBatch1000(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(spawnProcs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < spawnTasks/spawnBatch; j++ {
			spawnJoin(spawnBatch)
		}
	}
	b.ReportMetric(perUnit(b, spawnTasks), "ns/task")
}

// BenchmarkYield runs 2 goroutines on GOMAXPROCS=1, each calling
// runtime.Gosched 1,000,000 times, so they hand the one P back and forth.
// Metric: ns per yield = elapsed / 2,000,000.
func BenchmarkYield(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		wg.Add(2)
		for t := 0; t < 2; t++ {
			go func() {
				defer wg.Done()
				for k := 0; k < yields; k++ {
					runtime.Gosched()
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(perUnit(b, 2*yields), "ns/yield")
}

// chanPingPong runs one chan_pingpong workload: an echo goroutine answers
// every v received on ping with v+1 on pong until ping is closed; a driver
// goroutine sends 0..roundTrips on ping and checks each reply. Both channels
// are unbuffered (rendezvous). The caller waits for both goroutines.
func chanPingPong() {
	ping := make(chan uint64)
	pong := make(chan uint64)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for v := range ping {
			pong <- v + 1
		}
	}()
	go func() {
		defer wg.Done()
		for i := uint64(0); i < roundTrips; i++ {
			ping <- i
			if r := <-pong; r != i+1 {
				panic("chan_pingpong: wrong reply")
			}
		}
		close(ping)
	}()
	wg.Wait()
}

// BenchmarkChanPingPong1 bounces a uint64 between 2 goroutines over
// unbuffered channels 500,000 round trips on GOMAXPROCS=1.
// Metric: ns per round trip.
func BenchmarkChanPingPong1(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		chanPingPong()
	}
	b.ReportMetric(perUnit(b, roundTrips), "ns/roundtrip")
}

// BenchmarkChanPingPong2 is BenchmarkChanPingPong1 on GOMAXPROCS=2.
func BenchmarkChanPingPong2(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		chanPingPong()
	}
	b.ReportMetric(perUnit(b, roundTrips), "ns/roundtrip")
}

// pipeline4 runs 4 stages over channels of 16, n items; apart: each stage
// is busy for 3 ms first (benches/two_workers.rs, "apart").
func pipeline4(n int, apart bool) {
	busy := func() {
		if apart {
			for t := time.Now(); time.Since(t) < 3*time.Millisecond; {
			}
		}
	}
	in := make(chan int, 16)
	src := in
	for s := 0; s < 3; s++ {
		out := make(chan int, 16)
		go func(in <-chan int, out chan<- int) {
			busy()
			for v := range in {
				out <- v + 1
			}
			close(out)
		}(src, out)
		src = out
	}
	done := make(chan int)
	go func(in <-chan int) {
		count := 0
		for range in {
			count++
		}
		done <- count
	}(src)
	go func() {
		busy()
		for i := 0; i < n; i++ {
			in <- i
		}
		close(in)
	}()
	if got := <-done; got != n {
		panic("lost items")
	}
}

const pipelineItems = 300_000

// BenchmarkPipeline4Together is benches/two_workers.rs "together" on
// GOMAXPROCS=2.
func BenchmarkPipeline4Together(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pipeline4(pipelineItems, false)
	}
	b.ReportMetric(perUnit(b, pipelineItems), "ns/item")
}

// BenchmarkPipeline4Apart is benches/two_workers.rs "apart" on
// GOMAXPROCS=2 (the 3 ms of busy work is in the time, as in rt's and
// tokio's).
func BenchmarkPipeline4Apart(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pipeline4(pipelineItems, true)
	}
	b.ReportMetric(perUnit(b, pipelineItems), "ns/item")
}

// perUnit is the elapsed benchmark time per unit of work, in ns.
func perUnit(b *testing.B, unitsPerOp int) float64 {
	return float64(b.Elapsed()) / float64(time.Nanosecond) / float64(b.N) / float64(unitsPerOp)
}

var sink int

// deferLoop8 registers 8 deferred closures in a loop: a loop forces Go's
// heap-allocated defer records (no open-coded defers).
func deferLoop8() {
	for i := 0; i < 8; i++ {
		defer func(i int) { sink += i }(i)
	}
}

// noDeferLoop8 does the same work without defer: the baseline.
func noDeferLoop8() {
	for i := 0; i < 8; i++ {
		func(i int) { sink += i }(i)
	}
}

// BenchmarkDeferLoop8 and BenchmarkDeferLoop8Baseline: Go's heap-defer
// overhead per defer is (DeferLoop8 - Baseline) / 8.
func BenchmarkDeferLoop8(b *testing.B) {
	for i := 0; i < b.N; i++ {
		deferLoop8()
	}
}

func BenchmarkDeferLoop8Baseline(b *testing.B) {
	for i := 0; i < b.N; i++ {
		noDeferLoop8()
	}
}

func panicRecover() (recovered bool) {
	defer func() {
		recovered = recover() != nil
	}()
	panic("boom")
}

// BenchmarkPanicRecover: panic with a string and recover it in a deferred
// function. Metric: ns per panic (ns/op).
func BenchmarkPanicRecover(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if !panicRecover() {
			b.Fatal("not recovered")
		}
	}
}

// BenchmarkTimerChurn: 100,000 goroutines on GOMAXPROCS=2 each sleep 1 ms
// once, then the spawner waits for all (benches/timers.rs). Metric: ns per
// task, the 1 ms included once per run like the Rust side.
func BenchmarkTimerChurn(b *testing.B) {
	const tasks = 100_000
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		wg.Add(tasks)
		for j := 0; j < tasks; j++ {
			go func() {
				time.Sleep(time.Millisecond)
				wg.Done()
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(perUnit(b, tasks), "ns/task")
}

// Select peers (benches/select.rs, issue 15), all on GOMAXPROCS=1; ns/op is
// one select (with its send) or one round trip.

// BenchmarkSelectReadyOf4: 4 channels buffered to 1; each op sends one
// value into channel i%4, then selects over the 4 receives (exactly one
// ready).
func BenchmarkSelectReadyOf4(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	c0 := make(chan uint64, 1)
	c1 := make(chan uint64, 1)
	c2 := make(chan uint64, 1)
	c3 := make(chan uint64, 1)
	chans := [4]chan uint64{c0, c1, c2, c3}
	var sum uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		chans[i%4] <- uint64(i)
		select {
		case v := <-c0:
			sum += v
		case v := <-c1:
			sum += v
		case v := <-c2:
			sum += v
		case v := <-c3:
			sum += v
		}
	}
	b.StopTimer()
	if n := uint64(b.N); sum != n*(n-1)/2 {
		b.Fatal("select_ready_of_4: wrong sum")
	}
}

// BenchmarkSelectDefaultOf2: a select over 2 empty channels (buffered to
// 1, never closed) with a default case, which every op takes.
func BenchmarkSelectDefaultOf2(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	a := make(chan uint64, 1)
	c := make(chan uint64, 1)
	defaults := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		select {
		case <-a:
			b.Fatal("empty")
		case <-c:
			b.Fatal("empty")
		default:
			defaults++
		}
	}
	b.StopTimer()
	if defaults != b.N {
		b.Fatal("select_default_of_2: missed a default")
	}
}

// BenchmarkSelectPingPong: the benchmark goroutine sends i on ping and
// waits for i+1 on pong (unbuffered channels); the echo goroutine waits in
// a select over ping and an idle channel nobody sends on. ns/op is one
// round trip.
func BenchmarkSelectPingPong(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ping := make(chan uint64)
	pong := make(chan uint64)
	idle := make(chan uint64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case v, ok := <-ping:
				if !ok {
					return
				}
				pong <- v + 1
			case <-idle:
				panic("idle channel")
			}
		}
	}()
	b.ResetTimer()
	for i := uint64(0); i < uint64(b.N); i++ {
		ping <- i
		if r := <-pong; r != i+1 {
			panic("select_pingpong: wrong reply")
		}
	}
	b.StopTimer()
	close(ping)
	<-done
}

const (
	hubClients  = 64
	hubRequests = 200_000
)

// hub: hubClients goroutines send requests to one hub goroutine and wait
// for its reply on a channel of their own (benches/two_workers.rs "hub");
// work: ~1.5 µs of client work per request, a busy wait on the clock.
func hub(work bool) {
	requests := make(chan int, hubClients)
	replies := make([]chan uint64, hubClients)
	done := make(chan struct{})
	for c := range replies {
		replies[c] = make(chan uint64, 1)
	}
	for c := 0; c < hubClients; c++ {
		go func(c int) {
			for i := 0; i < hubRequests/hubClients; i++ {
				if work {
					for t := time.Now(); time.Since(t) < 1500*time.Nanosecond; {
					}
				}
				requests <- c
				<-replies[c]
			}
			done <- struct{}{}
		}(c)
	}
	go func() {
		served := uint64(0)
		for c := range requests {
			served++
			replies[c] <- served
		}
	}()
	for c := 0; c < hubClients; c++ {
		<-done
	}
	close(requests)
}

// BenchmarkHub is benches/two_workers.rs "hub" on GOMAXPROCS=2.
func BenchmarkHub(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hub(false)
	}
	b.ReportMetric(perUnit(b, hubRequests), "ns/request")
}

// BenchmarkHubWork is benches/two_workers.rs "hub-work" on GOMAXPROCS=2.
func BenchmarkHubWork(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hub(true)
	}
	b.ReportMetric(perUnit(b, hubRequests), "ns/request")
}

// TestTickerCPU prints the CPU a 1 ms ticker costs over 3 s with
// GOMAXPROCS=2 (benches/two_workers.rs "ticker"); run with
// `go test -count=1 -run TickerCPU -v` (-count=1: no cached result).
func TestTickerCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("3 s")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	ticker := time.NewTicker(time.Millisecond)
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		<-ticker.C
	}
	ticker.Stop()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := func(r syscall.Rusage) float64 {
		return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e9
	}
	t.Logf("go-ticker cpu %.2f%% of a core", (cpu(after)-cpu(before))/3*100)
}

// BenchmarkPool is benches/two_workers.rs "pool" on GOMAXPROCS=2: a
// producer, 8 pool goroutines doing ~1.5 µs of work per job, a collector.
func BenchmarkPool(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const workers, jobsN = 8, 200000
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		jobs := make(chan uint64, 64)
		results := make(chan uint64, 64)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for job := range jobs {
					for t := time.Now(); time.Since(t) < 1500*time.Nanosecond; {
					}
					results <- job * 2
				}
			}()
		}
		sum := make(chan uint64)
		go func() {
			s := uint64(0)
			for r := range results {
				s += r
			}
			sum <- s
		}()
		for j := uint64(0); j < jobsN; j++ {
			jobs <- j
		}
		close(jobs)
		wg.Wait()
		close(results)
		if got := <-sum; got != jobsN*(jobsN-1) {
			b.Fatal(got)
		}
	}
	b.ReportMetric(perUnit(b, jobsN), "ns/job")
}

// BenchmarkMPMC is benches/two_workers.rs "mpmc" on GOMAXPROCS=2: 4
// producers and 4 consumers on one channel of 128.
func BenchmarkMPMC(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const sides, items = 4, 1000000
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ch := make(chan uint64, 128)
		var producers sync.WaitGroup
		for p := 0; p < sides; p++ {
			producers.Add(1)
			go func() {
				defer producers.Done()
				for j := uint64(0); j < items/sides; j++ {
					ch <- j
				}
			}()
		}
		counts := make(chan int, sides)
		for c := 0; c < sides; c++ {
			go func() {
				n := 0
				for range ch {
					n++
				}
				counts <- n
			}()
		}
		producers.Wait()
		close(ch)
		total := 0
		for c := 0; c < sides; c++ {
			total += <-counts
		}
		if total != items {
			b.Fatal(total)
		}
	}
	b.ReportMetric(perUnit(b, items), "ns/item")
}
