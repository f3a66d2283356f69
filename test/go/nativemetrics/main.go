// Command nativemetrics is a Go program for pprofcol's gapfill tests: it serves client_golang's
// /metrics (the Go and process collectors of the default registry) beside net/http/pprof, and its
// /metrics can be broken on purpose:
//
//	GET /toggle?metrics=off   /metrics answers 500 until switched on again
//	GET /toggle?metrics=omit  /metrics answers 200 without go_goroutines
//	GET /toggle?metrics=on    back to normal
//	-fail-ratio 0.6           each /metrics request fails (500) with this probability
//	-hold-memory              shape the heap, then hold it still (see holdMemory)
//
// It builds in GOPATH mode against Debian's golang-github-prometheus-client-golang-dev (no go.mod).
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand"
	"net/http"
	_ "net/http/pprof"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

type mode int32

const (
	modeOn mode = iota
	modeOff
	modeOmit
)

var current atomic.Int32

// withoutGoroutines hides go_goroutines from a gatherer.
type withoutGoroutines struct{ g prometheus.Gatherer }

func (w withoutGoroutines) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := w.g.Gather()
	out := mfs[:0]
	for _, mf := range mfs {
		if mf.GetName() != "go_goroutines" {
			out = append(out, mf)
		}
	}
	return out, err
}

// ballast is the live heap that -hold-memory keeps: package level, so the collector never frees it.
var ballast [][]byte

// holdMemory shapes the heap so that the go_memstats_* families stand apart from each other, then
// leaves it still: the tests compare pprofcol's value of each family with this program's own, and a
// comparison catches two swapped families only where their values differ by more than its tolerance.
//   - 4M objects of 64 bytes allocated and dropped: 256 MB allocated in all, far above every gauge, and
//     frees and mallocs millions, well apart from the live object count.
//   - 120,000 objects of 500 bytes (Go's 512-byte size class), every fourth kept: 15 MB live in spans
//     that are a quarter full, so heap in use (~67 MB) stands apart from the bytes allocated (~16 MB)
//     and from the heap goal (~33 MB: 2x live at GOGC=100).
//   - 5,000 objects of 8 KiB, one span each, allocated and dropped: their span structures go back to
//     a free list, never to the OS, so MSpan obtained (~2 MB) stands apart from MSpan in use (~1.3 MB)
//     and from the profiling bucket table (~1.45 MB); their 40 MB of pages go back to the OS below.
//   - then every free page goes back to the OS (debug.FreeOSMemory: heap released ~40-46 MB, between
//     the heap goal and the heap in use; how much the heap grew before depends on the collector's
//     timing), and 4 MiB
//     of large objects are allocated and collected: heap idle is heap released plus those 4 MiB. The scavenger keeps what is
//     free up to ~10% of the heap in use (~6 MB), so it leaves them alone and released stays still.
//
// It ends with a collection, so nothing is left to sweep: until the next collection (the heap goal is
// ~15 MB away, far more than the tests' requests allocate; the runtime forces one every 2 minutes) the
// counters and most gauges only grow, and the rest barely move.
func holdMemory() {
	var sink []byte
	for i := 0; i < 4_000_000; i++ {
		sink = make([]byte, 64)
	}
	_ = sink
	all := make([][]byte, 0, 120_000)
	for i := 0; i < 120_000; i++ {
		all = append(all, make([]byte, 500))
	}
	ballast = make([][]byte, 0, 30_000)
	for i := 0; i < len(all); i += 4 {
		ballast = append(ballast, all[i])
	}
	all = nil
	spans := make([][]byte, 0, 5_000)
	for i := 0; i < 5_000; i++ {
		spans = append(spans, make([]byte, 8192))
	}
	spans = nil
	debug.FreeOSMemory()
	free := make([][]byte, 0, 64)
	for i := 0; i < 64; i++ {
		free = append(free, make([]byte, 64<<10))
	}
	free = nil
	runtime.GC()
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve /metrics and /debug/pprof on")
	failRatio := flag.Float64("fail-ratio", 0, "fraction of /metrics requests answered with 500")
	seed := flag.Int64("seed", 1, "seed of the failure draws")
	parked := flag.Int("goroutines", 20, "goroutines to park, so go_goroutines is well above the runtime's own")
	hold := flag.Bool("hold-memory", false, "shape the heap so that every go_memstats_* family differs, then hold it still")
	flag.Parse()
	if *hold {
		holdMemory()
	}

	stop := make(chan struct{})
	for i := 0; i < *parked; i++ {
		go func() { <-stop }()
	}

	var mu sync.Mutex
	rng := rand.New(rand.NewSource(*seed))
	var requests, failures atomic.Int64
	normal := promhttp.HandlerFor(prometheus.DefaultGatherer, promhttp.HandlerOpts{})
	omitted := promhttp.HandlerFor(withoutGoroutines{prometheus.DefaultGatherer}, promhttp.HandlerOpts{})

	http.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		mu.Lock()
		fail := *failRatio > 0 && rng.Float64() < *failRatio
		mu.Unlock()
		switch {
		case mode(current.Load()) == modeOff:
			failures.Add(1)
			http.Error(w, "metrics switched off", http.StatusInternalServerError)
		case fail:
			failures.Add(1)
			http.Error(w, "failing on purpose (-fail-ratio)", http.StatusInternalServerError)
		case mode(current.Load()) == modeOmit:
			omitted.ServeHTTP(w, r)
		default:
			normal.ServeHTTP(w, r)
		}
	})
	http.HandleFunc("/toggle", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("metrics") {
		case "on":
			current.Store(int32(modeOn))
		case "off":
			current.Store(int32(modeOff))
		case "omit":
			current.Store(int32(modeOmit))
		default:
			http.Error(w, "metrics=on|off|omit", http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	// How many /metrics requests came and how many failed: the tests' ground truth for the loss meter.
	http.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d %d\n", requests.Load(), failures.Load())
	})
	log.Printf("nativemetrics listening on %s (fail-ratio %.2f)", *listen, *failRatio)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
