// Package bench holds bulwark's side-by-side benchmarks against peer libraries.
// It is its own module so that the peers never become dependencies of bulwark.
// Each area has its own folder (retry, breaker, bulkhead, cache, balance, shard);
// this file pins the peer set so `go mod tidy` keeps every peer in go.mod.
package bench

import (
	_ "github.com/avast/retry-go/v4"
	_ "github.com/buraksezer/consistent"
	_ "github.com/cenkalti/backoff/v5"
	_ "github.com/dgraph-io/ristretto/v2"
	_ "github.com/dgryski/go-jump"
	_ "github.com/dgryski/go-rendezvous"
	_ "github.com/eapache/go-resiliency/breaker"
	_ "github.com/failsafe-go/failsafe-go"
	_ "github.com/hashicorp/golang-lru/v2"
	_ "github.com/lithammer/go-jump-consistent-hash"
	_ "github.com/maypok86/otter/v2"
	_ "github.com/platinummonkey/go-concurrency-limits/core"
	_ "github.com/serialx/hashring"
	_ "github.com/sethvargo/go-retry"
	_ "github.com/sony/gobreaker/v2"
	_ "github.com/stathat/consistent"
	_ "golang.org/x/sync/semaphore"
)
