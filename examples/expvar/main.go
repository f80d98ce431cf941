// Command expvar shows how to publish bulwark's Stats() snapshots through the
// standard library's expvar package, the zero-dependency way to expose them to
// a metrics scraper: each building block gets an expvar.Func that returns its
// current Stats(), and /debug/vars serves them as JSON.
//
// It builds a breaker, a bulkhead, a cache and a picker, drives a little traffic
// through them, serves /debug/vars on a loopback port, fetches it once and
// prints the bulwark part. It exits non-zero if the published numbers do not
// match the traffic it sent.
//
//	go run ./examples/expvar
package main

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/bulwark-go/bulwark/balance"
	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/bulkhead"
	"github.com/bulwark-go/bulwark/cache"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "expvar:", err)
		os.Exit(1)
	}
}

// blocks are the building blocks whose Stats the example publishes.
type blocks struct {
	breaker  *breaker.Breaker
	bulkhead *bulkhead.Bulkhead
	cache    *cache.Cache[string, int]
	picker   *balance.P2C[string]
}

func newBlocks() (*blocks, error) {
	br, err := breaker.New(breaker.Config{Name: "inventory"})
	if err != nil {
		return nil, err
	}
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 4})
	if err != nil {
		return nil, err
	}
	c, err := cache.New(cache.Config[string, int]{Capacity: 100})
	if err != nil {
		return nil, err
	}
	p, err := balance.NewP2C([]string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}, balance.Config{})
	if err != nil {
		return nil, err
	}
	return &blocks{breaker: br, bulkhead: bh, cache: c, picker: p}, nil
}

// publish registers one expvar.Func per block under the "bulwark" map. expvar
// names are process-global and cannot be published twice, so a second call
// (a test running run again) replaces the funcs in the map the first made.
func (b *blocks) publish() *expvar.Map {
	m, _ := expvar.Get("bulwark").(*expvar.Map)
	if m == nil {
		m = expvar.NewMap("bulwark")
	}
	m.Set("breaker_inventory", expvar.Func(func() any { return b.breaker.Stats() }))
	m.Set("bulkhead", expvar.Func(func() any { return b.bulkhead.Stats() }))
	m.Set("cache", expvar.Func(func() any { return b.cache.Stats() }))
	m.Set("picker", expvar.Func(func() any { return b.picker.Stats() }))
	return m
}

// drive sends a fixed amount of traffic through every block: 10 breaker calls
// (3 failing), 10 bulkhead calls, 10 cache reads of 4 keys, 12 picks.
func (b *blocks) drive(ctx context.Context) error {
	for i := range 10 {
		_ = b.breaker.Do(ctx, func(context.Context) error {
			if i%4 == 0 {
				return errors.New("inventory unavailable")
			}
			return nil
		})
		if err := b.bulkhead.Do(ctx, func(context.Context) error { return nil }); err != nil {
			return err
		}
		key := fmt.Sprint("sku-", i%4)
		if _, ok := b.cache.Get(key); !ok {
			b.cache.Set(key, i)
		}
	}
	for range 12 {
		lease, err := b.picker.Pick()
		if err != nil {
			return err
		}
		lease.Done(nil)
	}
	return nil
}

func run(w io.Writer) error {
	b, err := newBlocks()
	if err != nil {
		return err
	}
	defer b.cache.Close()
	b.publish()
	if err := b.drive(context.Background()); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: expvar.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	resp, err := http.Get("http://" + ln.Addr().String() + "/debug/vars")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var vars struct {
		Bulwark json.RawMessage `json:"bulwark"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		return fmt.Errorf("decode /debug/vars: %w", err)
	}
	var pretty map[string]any
	if err := json.Unmarshal(vars.Bulwark, &pretty); err != nil {
		return err
	}
	out, _ := json.MarshalIndent(pretty, "", "  ")
	fmt.Fprintf(w, "GET /debug/vars -> \"bulwark\":\n%s\n", out)
	return check(vars.Bulwark)
}

// check verifies that what /debug/vars served matches the traffic drive sent.
func check(raw json.RawMessage) error {
	var got struct {
		Breaker  breaker.Stats  `json:"breaker_inventory"`
		Bulkhead bulkhead.Stats `json:"bulkhead"`
		Cache    cache.Stats    `json:"cache"`
		Picker   struct {
			Nodes []struct{ Picks int64 }
		} `json:"picker"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return err
	}
	var picks int64
	for _, n := range got.Picker.Nodes {
		picks += n.Picks
	}
	switch {
	case got.Breaker.Successes != 7 || got.Breaker.Failures != 3:
		return fmt.Errorf("breaker successes/failures %d/%d, want 7/3", got.Breaker.Successes, got.Breaker.Failures)
	case got.Bulkhead.Admitted != 10:
		return fmt.Errorf("bulkhead admitted %d, want 10", got.Bulkhead.Admitted)
	case got.Cache.Hits != 6 || got.Cache.Misses != 4:
		return fmt.Errorf("cache hits/misses %d/%d, want 6/4", got.Cache.Hits, got.Cache.Misses)
	case picks != 12:
		return fmt.Errorf("picker picks %d, want 12", picks)
	}
	return nil
}
