// Command goroutines is a small Go program used by pprofcol's tests: it serves
// net/http/pprof and expvar, and can park goroutines, contend on a mutex,
// block on channels, allocate garbage and burn CPU so that every profile has content.
package main

import (
	_ "expvar"
	"flag"
	"fmt"
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// parker keeps a set of goroutines parked in parkedWorker.
type parker struct {
	mu    sync.Mutex
	stops []chan struct{}
}

//go:noinline
func parkedWorker(stop <-chan struct{}) {
	<-stop
}

func (p *parker) set(n int) {
	if n < 0 {
		n = 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.stops) < n {
		c := make(chan struct{})
		p.stops = append(p.stops, c)
		go parkedWorker(c)
	}
	for len(p.stops) > n {
		last := len(p.stops) - 1
		close(p.stops[last])
		p.stops = p.stops[:last]
	}
}

var shared sync.Mutex
var sharedCounter int

//go:noinline
func contendLock() {
	for {
		shared.Lock()
		sharedCounter++
		time.Sleep(200 * time.Microsecond)
		shared.Unlock()
		runtime.Gosched()
	}
}

//go:noinline
func blockOnChannel(in <-chan int, out chan<- int) {
	for v := range in {
		time.Sleep(time.Millisecond)
		out <- v + 1
	}
}

var (
	sink [][]byte
	ring [][]byte
)

//go:noinline
func allocateGarbage() {
	const slot = 64 << 10 // 64 KiB
	const slots = 128     // ~8 MiB retained in the ring
	ring = make([][]byte, slots)
	for i := 0; ; i++ {
		ring[i%slots] = make([]byte, slot)
		for j := 0; j < 64; j++ {
			sink = append(sink[:0], make([]byte, 1024))
		}
		if i%4 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// burnSpin and burnSleep make burnCPU's duty cycle: 5ms of arithmetic, then 5ms asleep, i.e. about
// half of one core (less when the machine is loaded: the sleep is wall time, the spin is too). Go's CPU
// profiler takes a sample per 10ms of CPU, so a 2s window at 50% holds about 100 samples of burnCPU.
// Half a core rather than a whole one leaves room for the other processes of a test run.
const (
	burnSpin  = 5 * time.Millisecond
	burnSleep = 5 * time.Millisecond
)

// burnSink keeps the arithmetic observable so the compiler cannot drop the loop.
var burnSink uint64

// burnCPU spins in pure arithmetic (no calls, no allocation) so that every CPU sample taken while it
// runs has burnCPU itself as its leaf frame.
//
//go:noinline
func burnCPU() {
	x := uint64(88172645463325252)
	for {
		deadline := time.Now().Add(burnSpin)
		for time.Now().Before(deadline) {
			// xorshift64: a few thousand rounds between clock reads keep time.Now out of the profile.
			for i := 0; i < 4096; i++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
			}
		}
		burnSink = x
		time.Sleep(burnSleep)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:6060", "address to serve /debug/pprof on")
	goroutines := flag.Int("goroutines", 0, "number of extra goroutines parked in parkedWorker")
	mutex := flag.Bool("mutex", false, "enable mutex and block profiling and create contention")
	alloc := flag.Bool("alloc", false, "keep allocating so that GC runs")
	burn := flag.Bool("burn", false, "burn about half a core in burnCPU (5ms spin, 5ms sleep)")
	flag.Parse()

	var p parker
	p.set(*goroutines)

	if *mutex {
		runtime.SetMutexProfileFraction(1)
		runtime.SetBlockProfileRate(1)
		for i := 0; i < 4; i++ {
			go contendLock()
		}
		in := make(chan int)
		out := make(chan int)
		for i := 0; i < 2; i++ {
			go blockOnChannel(in, out)
		}
		go func() {
			for i := 0; ; i++ {
				in <- i
			}
		}()
		go func() {
			for range out {
			}
		}()
	}
	if *alloc {
		go allocateGarbage()
	}
	if *burn {
		go burnCPU()
	}

	http.HandleFunc("/goroutines", func(w http.ResponseWriter, r *http.Request) {
		s := r.URL.Query().Get("set")
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			http.Error(w, "set must be a non-negative integer", http.StatusBadRequest)
			return
		}
		p.set(n)
		// Give exiting goroutines a moment to finish.
		time.Sleep(20 * time.Millisecond)
		fmt.Fprintf(w, "%d\n", runtime.NumGoroutine())
	})

	log.SetOutput(os.Stderr)
	if err := http.ListenAndServe(*listen, nil); err != nil {
		log.Fatal(err)
	}
}
