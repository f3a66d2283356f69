// Command nativemetrics is a Go program for pprofcol's gapfill tests: it serves client_golang's
// /metrics (the Go and process collectors of the default registry) beside net/http/pprof, and its
// /metrics can be broken on purpose:
//
//	GET /toggle?metrics=off   /metrics answers 500 until switched on again
//	GET /toggle?metrics=omit  /metrics answers 200 without go_goroutines
//	GET /toggle?metrics=on    back to normal
//	-fail-ratio 0.6           each /metrics request fails (500) with this probability
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

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve /metrics and /debug/pprof on")
	failRatio := flag.Float64("fail-ratio", 0, "fraction of /metrics requests answered with 500")
	seed := flag.Int64("seed", 1, "seed of the failure draws")
	parked := flag.Int("goroutines", 20, "goroutines to park, so go_goroutines is well above the runtime's own")
	flag.Parse()

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
