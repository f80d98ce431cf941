package shard_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/shard"
)

func ExampleNewRing() {
	ring, err := shard.NewRing([]string{"cache-a", "cache-b", "cache-c"}, shard.RingConfig{})
	if err != nil {
		panic(err)
	}
	fmt.Println(ring.Locate("user:42"))
	fmt.Println(ring.LocateN("user:42", 2)) // the owner, then its replica

	// Membership changes build a new ring; only keys for the newcomer move.
	bigger, err := ring.With("cache-d")
	if err != nil {
		panic(err)
	}
	fmt.Println(bigger.Members())
	// Output:
	// cache-c
	// [cache-c cache-b]
	// [cache-a cache-b cache-c cache-d]
}

// A service keeps the current router in an atomic.Pointer: readers Locate
// without locking while a membership change swaps in a new router.
func Example_membershipChange() {
	var current atomic.Pointer[shard.Ring]
	ring, err := shard.NewRing([]string{"cache-a", "cache-b", "cache-c"}, shard.RingConfig{})
	if err != nil {
		panic(err)
	}
	current.Store(ring)

	// A reader, on any goroutine:
	fmt.Println(current.Load().Locate("user:42"))

	// cache-c leaves: only its keys move.
	smaller, err := current.Load().Without("cache-c")
	if err != nil {
		panic(err)
	}
	current.Store(smaller)
	fmt.Println(current.Load().Locate("user:42"))
	// Output:
	// cache-c
	// cache-b
}

func ExampleNewBounded() {
	members := []string{"worker-1", "worker-2", "worker-3"}
	b, err := shard.NewBounded(members, shard.BoundedConfig{Partitions: 12, LoadFactor: 1.25})
	if err != nil {
		panic(err)
	}
	// No worker owns more than ceil(1.25·12/3) = 5 of the 12 partitions.
	fmt.Println("bound", b.Bound())
	owned := map[string]int{}
	for p := range 12 {
		owned[b.Owner(p)]++
	}
	fmt.Println(owned)
	fmt.Println(b.Partition("job:7"), b.Locate("job:7"))

	_, err = shard.NewBounded(members, shard.BoundedConfig{LoadFactor: 0.9})
	fmt.Println(err, errors.Is(err, shard.ErrInvalidConfig))
	// Output:
	// bound 5
	// map[worker-1:4 worker-2:5 worker-3:3]
	// 9 worker-2
	// shard: BoundedConfig.LoadFactor 0.9 not a finite number > 1 true
}

func ExampleNewMaglev() {
	table, err := shard.NewMaglev([]string{"lb-1", "lb-2"}, shard.MaglevConfig{
		Weights: map[string]float64{"lb-2": 2},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(table.Entries()) // 65537 entries split 1:2
	fmt.Println(table.Locate("flow 10.0.0.1:5555"))

	_, err = shard.NewMaglev([]string{"lb-1"}, shard.MaglevConfig{TableSize: 65536})
	fmt.Println(err)
	// Output:
	// map[lb-1:21846 lb-2:43691]
	// lb-2
	// shard: MaglevConfig.TableSize 65536 not prime
}

func ExampleNewJump() {
	jump, err := shard.NewJump([]string{"s0", "s1", "s2", "s3"})
	if err != nil {
		panic(err)
	}
	fmt.Println(jump.Locate("order:1001"))

	// Removing any member moves only its keys (its slot is remapped).
	smaller, err := jump.Without("s1")
	if err != nil {
		panic(err)
	}
	fmt.Println(smaller.Members())
	fmt.Println(smaller.Locate("order:1001"))
	// Output:
	// s3
	// [s0 s2 s3]
	// s3
}

func ExampleJumpHash() {
	// Bit-exact with the paper's code: ClickHouse's test vector.
	fmt.Println(shard.JumpHash(256, 1024))
	// As buckets grow from 1 to 16, a key either keeps its bucket or moves
	// to the bucket just added.
	key := shard.Hash("order:1001")
	var buckets []int
	for n := 1; n <= 16; n++ {
		buckets = append(buckets, shard.JumpHash(key, n))
	}
	fmt.Println(buckets)
	// Output:
	// 520
	// [0 1 1 3 3 3 6 6 6 9 9 9 9 9 9 9]
}

func ExampleHash() {
	// XXH64 with seed 0: the same value on every machine and in every release.
	fmt.Printf("%#x\n", shard.Hash("abc"))
	fmt.Println(shard.Hash("abc") == shard.HashBytes([]byte("abc")))
	// Output:
	// 0x44bc2cf5ad770999
	// true
}

func ExampleNewRendezvous() {
	hrw, err := shard.NewRendezvous([]string{"east", "west", "north"}, shard.RendezvousConfig{
		Weights: map[string]float64{"east": 2}, // east wins half the keys
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(hrw.Locate("tenant-7"), hrw.LocateN("tenant-7", 3))
	// Output:
	// east [east north west]
}

func ExampleNewRange() {
	r, err := shard.NewRange([]shard.Span{
		{Start: "", End: "m", Member: "db-1"},
		{Start: "m", End: "", Member: "db-2"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Locate("apple"), r.Locate("melon"), r.Locate("zucchini"))
	fmt.Println(r.SpanOf("melon"))

	// Spans must cover the key space end to end.
	_, err = shard.NewRange([]shard.Span{{Start: "", End: "m", Member: "a"}, {Start: "n", End: "", Member: "b"}})
	fmt.Println(err)
	// Output:
	// db-1 db-2 db-2
	// ["m", +∞)→db-2
	// shard: gap between spans after span 0: span 1 ["n", +∞)→b
}

func ExampleRange_Split() {
	r, err := shard.NewRange([]shard.Span{{Start: "", End: "", Member: "db-1"}})
	if err != nil {
		panic(err)
	}
	// db-1 is full: give [m, +∞) to db-2.
	split, err := r.Split("m", "db-2")
	if err != nil {
		panic(err)
	}
	fmt.Println(split.Spans())
	fmt.Println(split.Locate("melon"))

	// Merge undoes Split.
	merged, err := split.Merge("m")
	if err != nil {
		panic(err)
	}
	fmt.Println(merged.Spans())
	// Output:
	// [["", "m")→db-1 ["m", +∞)→db-2]
	// db-2
	// [["", +∞)→db-1]
}

func ExampleRange_BeginMove() {
	r, err := shard.NewRange([]shard.Span{
		{Start: "", End: "m", Member: "db-1"},
		{Start: "m", End: "", Member: "db-2"},
	})
	if err != nil {
		panic(err)
	}
	// Migrate [m, +∞) from db-2 to db-3 while traffic continues: reads stay
	// on the source, writes reach both while db-3 is back-filled.
	moving, err := r.BeginMove("m", "db-3")
	if err != nil {
		panic(err)
	}
	owner, also := moving.LocateWrite("pear")
	fmt.Println("read from", moving.LocateRead("pear"), "- write to", owner, "and", also)
	for _, m := range moving.Migrations() {
		fmt.Printf("moving [%q, %q) %s -> %s\n", m.Start, m.End, m.From, m.To)
	}

	done, err := moving.CompleteMove("m")
	if err != nil {
		panic(err)
	}
	owner, also = done.LocateWrite("pear")
	fmt.Printf("read from %s - write to %s and %q\n", done.LocateRead("pear"), owner, also)
	// Output:
	// read from db-2 - write to db-2 and db-3
	// moving ["m", "") db-2 -> db-3
	// read from db-3 - write to db-3 and ""
}

func ExampleRangeMoves() {
	before, err := shard.NewRange([]shard.Span{
		{Start: "", End: "m", Member: "db-1"},
		{Start: "m", End: "", Member: "db-2"},
	})
	if err != nil {
		panic(err)
	}
	after, err := before.Split("t", "db-3")
	if err != nil {
		panic(err)
	}
	for _, m := range shard.RangeMoves(before, after) {
		fmt.Printf("[%q, %q) %s -> %s\n", m.Start, m.End, m.From, m.To)
	}
	// Output:
	// ["t", "") db-2 -> db-3
}

func ExampleMoves() {
	before, err := shard.NewRing([]string{"a", "b", "c"}, shard.RingConfig{})
	if err != nil {
		panic(err)
	}
	after, err := before.With("d")
	if err != nil {
		panic(err)
	}
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%02d", i)
	}
	// The resharding plan: every key whose owner changes, all to d.
	for m := range shard.Moves(before, after, slices.Values(keys)) {
		fmt.Println(m.Key, m.From, "->", m.To)
	}
	// Output:
	// k01 b -> d
	// k10 a -> d
	// k15 a -> d
	// k19 c -> d
}

func ExampleMovedFraction() {
	before, err := shard.NewRing([]string{"a", "b", "c"}, shard.RingConfig{})
	if err != nil {
		panic(err)
	}
	after, err := before.With("d")
	if err != nil {
		panic(err)
	}
	sample := make([]string, 10_000)
	for i := range sample {
		sample[i] = fmt.Sprintf("user:%d", i)
	}
	// The share of the data that moves to d: ideally 1/4, and near it with
	// 160 ring points per member.
	fmt.Printf("%.2f\n", shard.MovedFraction(before, after, slices.Values(sample)))
	// Output:
	// 0.20
}

func ExampleGather() {
	shards := []string{"s1", "s2", "s3"}
	// At most two calls at a time; a failing shard does not stop the others.
	counts := shard.Gather(context.Background(), shards, 2,
		func(ctx context.Context, member string) (int, error) {
			if member == "s2" {
				return 0, fmt.Errorf("%s unavailable", member)
			}
			return len(member) * 10, nil // stand-in for a per-shard COUNT(*)
		})
	total := 0
	for _, r := range counts {
		if r.Err != nil {
			fmt.Println("partial:", r.Err)
			continue
		}
		total += r.Value
	}
	fmt.Println("total", total)
	// Output:
	// partial: s2 unavailable
	// total 40
}

func ExampleGatherAll() {
	shards := []string{"s1", "s2", "s3"}
	upper := func(ctx context.Context, member string) (string, error) {
		return strings.ToUpper(member), nil
	}
	all, err := shard.GatherAll(context.Background(), shards, 0, upper)
	fmt.Println(all, err)

	// The first error cancels the calls still running and is returned with
	// the member's name; no values come back.
	down := errors.New("unavailable")
	all, err = shard.GatherAll(context.Background(), shards, 1,
		func(ctx context.Context, member string) (string, error) {
			if member == "s2" {
				return "", down
			}
			return upper(ctx, member)
		})
	fmt.Println(all, err, errors.Is(err, down))
	// Output:
	// [S1 S2 S3] <nil>
	// [] shard: gather from "s2": unavailable true
}
