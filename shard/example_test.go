package shard_test

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bulwark-go/bulwark/shard"
)

func ExampleNewRing() {
	ring, err := shard.NewRing([]string{"cache-a", "cache-b", "cache-c"}, shard.RingConfig{})
	if err != nil {
		panic(err)
	}
	fmt.Println(ring.Locate("user:42"))
	fmt.Println(ring.LocateN("user:42", 2))

	// Membership changes build a new ring; only keys for the newcomer move.
	bigger, _ := ring.With("cache-d")
	fmt.Println(bigger.Members())
	// Output:
	// cache-c
	// [cache-c cache-b]
	// [cache-a cache-b cache-c cache-d]
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
	jump, _ := shard.NewJump([]string{"s0", "s1", "s2", "s3"})
	fmt.Println(jump.Locate("order:1001"))

	// Removing any member moves only its keys (its slot is remapped).
	smaller, _ := jump.Without("s1")
	fmt.Println(smaller.Members())
	fmt.Println(shard.JumpHash(256, 1024))
	// Output:
	// s3
	// [s0 s2 s3]
	// 520
}

func ExampleNewRendezvous() {
	hrw, _ := shard.NewRendezvous([]string{"east", "west", "north"}, shard.RendezvousConfig{
		Weights: map[string]float64{"east": 2}, // east wins half the keys
	})
	fmt.Println(hrw.Locate("tenant-7"), hrw.LocateN("tenant-7", 3))
	// Output:
	// east [east north west]
}

func ExampleRange_Split() {
	r, err := shard.NewRange([]shard.Span{
		{Start: "", End: "m", Member: "db-1"},
		{Start: "m", End: "", Member: "db-2"},
	})
	if err != nil {
		panic(err)
	}
	// db-2 is hot: give [t, +∞) to db-3, then migrate [m, t) from db-2 to db-4.
	r2, _ := r.Split("t", "db-3")
	r3, _ := r2.BeginMove("m", "db-4")
	owner, also := r3.LocateWrite("pear")
	fmt.Println("read pear from", r3.LocateRead("pear"), "- write to", owner, "and", also)

	done, _ := r3.CompleteMove("m")
	fmt.Println("read pear from", done.LocateRead("pear"))
	for _, m := range shard.RangeMoves(r, done) {
		fmt.Printf("[%q, %q) %s -> %s\n", m.Start, m.End, m.From, m.To)
	}

	_, err = shard.NewRange([]shard.Span{{Start: "", End: "m", Member: "a"}, {Start: "n", End: "", Member: "b"}})
	fmt.Println(err)
	// Output:
	// read pear from db-2 - write to db-2 and db-4
	// read pear from db-4
	// ["m", "t") db-2 -> db-4
	// ["t", "") db-2 -> db-3
	// shard: gap between spans after span 0: span 1 ["n", +∞)→b
}

func ExampleMoves() {
	before, _ := shard.NewRing([]string{"a", "b", "c"}, shard.RingConfig{})
	after, _ := before.With("d")
	keys := make([]string, 20)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%02d", i)
	}
	for m := range shard.Moves(before, after, slices.Values(keys)) {
		fmt.Println(m.Key, m.From, "->", m.To)
	}
	fmt.Printf("moved %.2f\n", shard.MovedFraction(before, after, slices.Values(keys)))
	// Output:
	// k01 b -> d
	// k10 a -> d
	// k15 a -> d
	// k19 c -> d
	// moved 0.20
}

func ExampleGather() {
	shards := []string{"s1", "s2", "s3"}
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

	all, err := shard.GatherAll(context.Background(), shards, 0,
		func(ctx context.Context, member string) (string, error) {
			return strings.ToUpper(member), nil
		})
	fmt.Println(all, err)
	// Output:
	// partial: s2 unavailable
	// total 40
	// [S1 S2 S3] <nil>
}
