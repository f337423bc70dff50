// Command load is a small closed-loop HTTP load generator for the jmake
// daemons: C clients each send one GET after another to a URL for a while,
// then it prints requests per second, the p50 and p99 latency and the number
// of failures (transport errors or a status other than 200).
//
//	go run ./bench/load -url http://127.0.0.1:3004/healthz -c 16 -d 5s
//
// Every request carries "Authorization: Bearer <token>" with the token read
// from $JMAKE_HOME/token (or -token-file), so authenticated routes such as
// /v1/stats can be measured as well; /healthz ignores it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

type result struct {
	URL      string  `json:"url"`
	Clients  int     `json:"clients"`
	Seconds  float64 `json:"seconds"`
	Requests int     `json:"requests"`
	Failures int     `json:"failures"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	// FirstError is one failure, to tell a refused connection from a 401.
	FirstError string `json:"first_error,omitempty"`
}

func main() {
	url := flag.String("url", "http://127.0.0.1:3004/healthz", "URL to GET")
	clients := flag.Int("c", 16, "concurrent clients")
	dur := flag.Duration("d", 5*time.Second, "how long to send requests")
	tokenFile := flag.String("token-file", "", "bearer token file (default $JMAKE_HOME/token)")
	asJSON := flag.Bool("json", false, "print one JSON object instead of a line of text")
	flag.Parse()

	token, err := readToken(*tokenFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	res := run(*url, token, *clients, *dur)
	if *asJSON {
		json.NewEncoder(os.Stdout).Encode(res)
	} else {
		fmt.Printf("%s: %.0f req/s, p50 %.3f ms, p99 %.3f ms, %d requests, %d failures (%d clients, %.1f s)\n",
			res.URL, res.RPS, res.P50ms, res.P99ms, res.Requests, res.Failures, res.Clients, res.Seconds)
		if res.FirstError != "" {
			fmt.Printf("first failure: %s\n", res.FirstError)
		}
	}
	if res.Requests == 0 || res.Failures > 0 {
		os.Exit(1)
	}
}

// readToken reads the daemons' bearer token; without -token-file and
// without a JMAKE_HOME it sends no token (enough for /healthz).
func readToken(path string) (string, error) {
	if path == "" {
		home := os.Getenv("JMAKE_HOME")
		if home == "" {
			return "", nil
		}
		path = filepath.Join(home, "token")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// run keeps `clients` goroutines busy for d and gathers every latency.
// Each goroutine keeps its own slice (no lock on the hot path); the
// transport keeps one idle connection per client so that every request
// reuses a keep-alive connection, as a real client of the daemons does.
func run(url, token string, clients int, d time.Duration) result {
	tr := &http.Transport{
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		DisableCompression:  true,
	}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	type worker struct {
		lat      []time.Duration
		failures int
		firstErr string
	}
	workers := make([]worker, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		w.lat = make([]time.Duration, 0, 1<<16)
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				err := get(hc, url, token)
				el := time.Since(t0)
				if err != nil {
					w.failures++
					if w.firstErr == "" {
						w.firstErr = err.Error()
					}
					continue
				}
				w.lat = append(w.lat, el)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := result{URL: url, Clients: clients, Seconds: elapsed.Seconds()}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
		res.Failures += w.failures
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
	}
	slices.Sort(all)
	res.Requests = len(all)
	res.RPS = float64(len(all)) / elapsed.Seconds()
	res.P50ms = ms(percentile(all, 0.50))
	res.P99ms = ms(percentile(all, 0.99))
	return res
}

// get sends one request and reads the whole body, so the connection can be
// reused; anything but 200 counts as a failure.
func get(hc *http.Client, url, token string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// percentile of sorted latencies by the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
