// Package script runs the Lua scripts of bulwark's fleet packages
// (ratelimit, budget, breakershare) on a Redis client the caller built.
//
// Most users need one line, with the rueidis client they already have (their
// TLS, ACL user, cluster or sentinel topology):
//
//	store := script.Rueidis(client) // pass store to ratelimit.New, budget.New, breakershare.New
//
// The packages reach Redis only through the small Evaler and Client
// interfaces below, so another client is an adapter of two methods. Every
// script they run touches keys of one Redis Cluster hash slot (the keys share
// a hash tag) and returns an array of bulk strings (numbers are formatted in
// Lua), so an adapter needs a single reply shape.
//
// Script values and adapters are safe for concurrent use.
package script

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/bulwark-go/bulwark/redis"
)

// Script is a Lua script with its SHA-1, for Evaler.Eval.
type Script struct {
	src, sha string
}

// New returns the script with Lua source src.
func New(src string) *Script {
	sum := sha1.Sum([]byte(src))
	return &Script{src: src, sha: hex.EncodeToString(sum[:])}
}

// Source returns the script's Lua source.
func (s *Script) Source() string { return s.src }

// SHA1 returns the hex SHA-1 of the source, the name EVALSHA takes.
func (s *Script) SHA1() string { return s.sha }

// Evaler runs scripts. Eval runs s (EVALSHA, then EVAL on NOSCRIPT) on the
// node that owns keys — which share one hash slot — and returns its reply,
// an array of bulk strings. It must return by the time ctx ends.
type Evaler interface {
	Eval(ctx context.Context, s *Script, keys []string, args ...string) ([]string, error)
}

// Client is an Evaler that can also subscribe to a pub/sub channel, with
// the semantics of redis.Store's Subscribe: message is called sequentially
// with each payload published on channel until the returned Watch is
// closed or lost.
type Client interface {
	Evaler
	Subscribe(ctx context.Context, channel string, message func(payload string)) (redis.Watch, error)
}
