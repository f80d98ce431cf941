// Package redis takes bulwark's cache across a fleet of instances that share
// one Redis: a two-level cache whose first level is bulwark's in-process
// cache.Cache and whose second is Redis, with cross-instance invalidation
// and a singleflight that spans the whole fleet.
//
// The three-line use, with a rueidis client you built (your TLS, ACL user,
// cluster or sentinel topology):
//
//	c, err := redis.New(redis.Rueidis(client), redis.Config[User]{Prefix: "users:", L1: cache.Config[string, User]{Capacity: 10_000}})
//	defer c.Close()
//	u, err := c.GetOrLoad(ctx, id, loadUser) // one loadUser per id in the whole fleet
//
// GetOrLoad is the call most users want. A hit in the instance's own memory
// (L1) returns at once and allocates nothing. A miss asks Redis (L2); a miss
// there lets exactly one instance of the fleet run the loader — it takes a
// lock key, loads, and writes the value with a fencing version so that a
// slow loader whose lock expired never overwrites a fresher value — while
// the other instances wait for the value without polling, woken by Redis's
// invalidation of the key, and give up when their own ctx ends. Set and
// Delete write Redis and remove the key from every instance's L1.
//
// # The local guard decides, the store informs
//
// Redis is an accelerator, never a dependency of correctness or of
// availability. Every Redis call is bounded by Config.Timeout; when Redis is
// slow or gone, GetOrLoad degrades to L1, the instance's own singleflight
// and the loader, counts it (Stats.RedisErrors, Stats.LocalLoads), reports
// EventRedisError, and goes back to Redis by itself once the heartbeat
// answers. What Redis returns is untrusted input: a value the codec cannot
// decode is a miss and an EventDecodeError, a malformed reply is a Redis
// error, and neither panics.
//
// # Staleness bound
//
// Every instance keeps one invalidation stream open: RESP3 client tracking
// in broadcast mode on the cache's key prefix (CLIENT TRACKING ON BCAST, on
// every node of a cluster), or, where tracking is unavailable, a pub/sub
// channel on which every write of this package publishes its key. While the
// stream is up, an instance stops returning a value overwritten in Redis as
// soon as the invalidation reaches it: Redis sends it while executing the
// write, so the bound is one one-way trip from Redis after the write, with
// no batching or polling interval added. When the stream breaks, or its
// heartbeat (Config.Heartbeat, answered within Config.Timeout) fails, the
// instance empties its L1, and it empties it again once the stream is back
// (invalidations sent in between are lost), so a silent connection adds at
// most Heartbeat+Timeout. L1's own TTL (Config.L1.TTL) caps the age of every
// L1 entry in every case, including an outage during which no instance can
// tell the others anything.
//
// # Keys
//
// A key k under Config.Prefix p is stored at p{k}; its fleet lock at
// p{k}:lock and its fencing counter at p{k}:ver. The braces are a Redis
// Cluster hash tag: the three keys live in one slot, so every script here
// is a single-slot script that a cluster accepts.
//
// # Other clients
//
// The cache reaches Redis only through the small Store interface; Rueidis
// adapts a rueidis.Client (rueidis keeps RESP3 tracking working on
// standalone, replica and cluster deployments). Another client is an
// adapter of Get, Eval, Track and Subscribe; one that cannot track returns
// ErrUnsupported from Track and the cache uses pub/sub.
//
// All types are safe for concurrent use.
package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("redis: invalid config")

// ErrInvalidArgument is wrapped by the error a call returns for bad input:
// an empty key, a key the cluster hash tag cannot hold, a nil loader.
var ErrInvalidArgument = errors.New("redis: invalid argument")

// ErrUnavailable is wrapped by the error Set and Delete return when Redis
// did not confirm the write within Config.Timeout; the error also wraps the
// cause. The instance's own L1 is updated all the same.
var ErrUnavailable = errors.New("redis: unavailable")

// ErrUnsupported is returned by a Store's Track (or Subscribe) when the
// server or client cannot provide that invalidation stream; the cache then
// falls back to the other one.
var ErrUnsupported = errors.New("redis: not supported")

// Store is what the cache needs from a Redis client. Rueidis adapts a
// rueidis.Client; an adapter for another client implements these four
// methods. Every method must return by the time ctx ends.
type Store interface {
	// Get returns the string value at key; ok is false when there is none.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)

	// Eval runs script (EVALSHA, then EVAL on NOSCRIPT) on the node that
	// owns keys, which share one hash slot, and returns its reply, an array
	// of bulk strings.
	Eval(ctx context.Context, script *Script, keys []string, args ...string) ([]string, error)

	// Track enables RESP3 client tracking in broadcast mode for keys
	// starting with prefix, on every node that holds keys, and calls
	// invalidate, sequentially, with the keys Redis reports modified; nil
	// keys means "everything" (a flush, or the connection closing). It
	// returns ErrUnsupported (wrapped) when the server rejects tracking.
	Track(ctx context.Context, prefix string, invalidate func(keys []string)) (Watch, error)

	// Subscribe subscribes to channel and calls message, sequentially,
	// with each payload published on it.
	Subscribe(ctx context.Context, channel string, message func(payload string)) (Watch, error)
}

// Watch is an open invalidation stream returned by Store.Track or
// Store.Subscribe.
type Watch interface {
	// Ping checks the stream's connections within ctx.
	Ping(ctx context.Context) error
	// Lost is closed when the stream stopped delivering.
	Lost() <-chan struct{}
	// Close ends the stream and releases its connections.
	Close()
}

// Script is a Lua script with its SHA-1, for Store.Eval.
type Script struct {
	src, sha string
}

func newScript(src string) *Script {
	sum := sha1.Sum([]byte(src))
	return &Script{src: src, sha: hex.EncodeToString(sum[:])}
}

// Source returns the script's Lua source.
func (s *Script) Source() string { return s.src }

// SHA1 returns the hex SHA-1 of the source, the name EVALSHA takes.
func (s *Script) SHA1() string { return s.sha }

// configError is an invalid Config field; it matches ErrInvalidConfig.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: "redis: " + fmt.Sprintf(format, args...)}
}

// argumentError is bad input to a call; it matches ErrInvalidArgument.
type argumentError struct{ msg string }

func (e *argumentError) Error() string { return e.msg }
func (e *argumentError) Unwrap() error { return ErrInvalidArgument }

func argumentErrorf(format string, args ...any) error {
	return &argumentError{msg: "redis: " + fmt.Sprintf(format, args...)}
}

// unavailableError is a write Redis did not confirm.
type unavailableError struct {
	op    string
	cause error
}

func (e *unavailableError) Error() string {
	return "redis: " + e.op + ": unavailable: " + e.cause.Error()
}
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }
