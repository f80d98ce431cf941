package shard

import (
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// Hash returns the 64-bit xxHash (XXH64, seed 0) of key.
//
// Its output is part of the API: it decides where data lives, so it is the same
// in every process, on every machine and in every release of this package
// (little-endian or not; the algorithm is specified by the xxHash project and
// pinned by known-answer tests; https://github.com/Cyan4973/xxHash). Every
// router in this package hashes keys with it.
func Hash(key string) uint64 { return xxhash.Sum64String(key) }

// HashBytes is Hash for a byte slice: HashBytes([]byte(s)) == Hash(s).
func HashBytes(key []byte) uint64 { return xxhash.Sum64(key) }

// JumpHash returns the bucket in [0, buckets) that key falls into under jump
// consistent hashing (Lamping & Veach, "A Fast, Minimal Memory, Consistent
// Hash Algorithm", 2014, Fig. 1, https://arxiv.org/abs/1406.2294). It is
// bit-exact with the paper's code, Guava's Hashing.consistentHash and
// dgryski/go-jump, including the linear congruential generator
// 2862933555777941757·k + 1 and the float64 arithmetic.
//
// Growing buckets from n to n+1 moves exactly the keys that now land in bucket
// n, about 1/(n+1) of them. JumpHash never panics: buckets ≤ 0 returns -1.
func JumpHash(key uint64, buckets int) int {
	if buckets <= 0 {
		return -1
	}
	return int(jump(key, int64(buckets)))
}

func jump(key uint64, buckets int64) int64 {
	var b, j int64 = -1, 0
	for j < buckets {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return b
}

// reduce maps h uniformly onto [0, n) with a multiply and a shift instead of a
// division (Lemire, "A fast alternative to the modulo reduction", 2016).
func reduce(h uint64, n uint64) uint64 {
	hi, _ := bits.Mul64(h, n)
	return hi
}
