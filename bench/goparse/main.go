// Command goparse times Go's own pprof parser, github.com/google/pprof/profile.Parse (the version
// pinned in go.mod), on profiles named on the command line, for bench/pprof-decode.ts to print beside
// pprofcol's decoder and pprof-format. Each .pb.gz is inflated once before timing, and Parse is handed
// the inflated bytes, the same bytes the JavaScript decoders get, so gunzip is in no column but its own.
//
//	goparse -ms 1000 a.pb.gz b.pb.gz ...
//
// Timing follows the JavaScript side: a 200 ms warm-up, then 5 rounds of ms/5 each, the best round
// kept. The benchmark runs it with GOMAXPROCS=1, so the garbage collector's work lands on the same core
// as the parse (per core, as the JavaScript figures are). One JSON object per profile on stdout.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/pprof/profile"
)

const (
	rounds = 5
	warmup = 200 * time.Millisecond
)

type result struct {
	File            string  `json:"file"`
	RawBytes        int     `json:"raw_bytes"`
	Samples         int     `json:"samples"`
	SecondsPerParse float64 `json:"seconds_per_parse"`
}

func inflate(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return io.ReadAll(zr)
}

// parse is the call being timed: the public entry point, with its validity check.
func parse(raw []byte) (int, error) {
	p, err := profile.Parse(bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	return len(p.Sample), nil
}

func secondsPerParse(raw []byte, total time.Duration) (float64, error) {
	for end := time.Now().Add(warmup); time.Now().Before(end); {
		if _, err := parse(raw); err != nil {
			return 0, err
		}
	}
	best := -1.0
	for r := 0; r < rounds; r++ {
		calls := 0
		start := time.Now()
		for time.Since(start) < total/rounds {
			if _, err := parse(raw); err != nil {
				return 0, err
			}
			calls++
		}
		if s := time.Since(start).Seconds() / float64(calls); best < 0 || s < best {
			best = s
		}
	}
	return best, nil
}

func main() {
	ms := flag.Int("ms", 1000, "milliseconds of timing per profile (split over 5 rounds)")
	flag.Parse()
	enc := json.NewEncoder(os.Stdout)
	for _, path := range flag.Args() {
		raw, err := inflate(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "goparse:", err)
			os.Exit(1)
		}
		samples, err := parse(raw)
		if err != nil {
			fmt.Fprintf(os.Stderr, "goparse: %s: %v\n", path, err)
			os.Exit(1)
		}
		s, err := secondsPerParse(raw, time.Duration(*ms)*time.Millisecond)
		if err != nil {
			fmt.Fprintf(os.Stderr, "goparse: %s: %v\n", path, err)
			os.Exit(1)
		}
		if err := enc.Encode(result{File: path, RawBytes: len(raw), Samples: samples, SecondsPerParse: s}); err != nil {
			os.Exit(1)
		}
	}
}
