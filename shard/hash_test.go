package shard

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHashKnownAnswers(t *testing.T) {
	// XXH64, seed 0: cespare/xxhash/v2 xxhash_test.go and the xxHash spec.
	tests := []struct {
		in   string
		want uint64
	}{
		{"", 0xef46db3751d8e999},
		{"a", 0xd24ec4f1a98c6e5b},
		{"as", 0x1c330fb2d66be179},
		{"asd", 0x631c37ce72a97393},
		{"asdf", 0x415872f599cea71e},
		{"abc", 0x44bc2cf5ad770999},
	}
	for _, tt := range tests {
		t.Run("in="+tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, Hash(tt.in), "Hash")
			assert.Equal(t, tt.want, HashBytes([]byte(tt.in)), "HashBytes")
		})
	}
}

func TestJumpHashKnownAnswers(t *testing.T) {
	t.Run("guava i=0..19 buckets=100", func(t *testing.T) {
		want := []int{0, 55, 62, 8, 45, 59, 86, 97, 82, 59, 73, 37, 17, 56, 86, 21, 90, 37, 38, 83}
		for i, w := range want {
			assert.Equal(t, w, JumpHash(uint64(i), 100), "JumpHash(%d, 100)", i)
		}
	})
	pairs := []struct {
		name    string
		key     uint64
		buckets int
		want    int
	}{
		{"clickhouse 1,1", 1, 1, 0},
		{"clickhouse 42,57", 42, 57, 43},
		{"clickhouse 256,1024", 256, 1024, 520},
		{"clickhouse 3735883980,1", 3735883980, 1, 0},
		{"clickhouse 3735883980,666", 3735883980, 666, 361},
		{"clickhouse 16045690984833335023,255", 16045690984833335023, 255, 237},
		{"guava 10863919174838991,11", 10863919174838991, 11, 6},
		{"guava 2016238256797177309,11", 2016238256797177309, 11, 3},
		{"guava 1673758223894951030,11", 1673758223894951030, 11, 5},
		{"guava 2,100001", 2, 100001, 80343},
		{"guava 2201,100001", 2201, 100001, 22152},
		{"guava 2202,100001", 2202, 100001, 15018},
		{"derived deadbeef,2^31-1", 0xdeadbeef, math.MaxInt32, 1452406526},
		{"derived 2^64-1,2^20", math.MaxUint64, 1 << 20, 589430},
		{"zero buckets", 7, 0, -1},
		{"negative buckets", 7, -3, -1},
	}
	for _, tt := range pairs {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, JumpHash(tt.key, tt.buckets))
		})
	}
	sequences := []struct {
		name string
		key  uint64
		want []int // for buckets 1, 2, ...
	}{
		{"go-jump key 1", 1, []int{0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17}},
		{"go-jump key deadbeef", 0xdeadbeef, []int{0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16}},
		{"go-jump key 0ddc0ffeebadf00d", 0x0ddc0ffeebadf00d, []int{0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15}},
	}
	for _, tt := range sequences {
		t.Run(tt.name, func(t *testing.T) {
			for n, w := range tt.want {
				assert.Equal(t, w, JumpHash(tt.key, n+1), "buckets=%d", n+1)
			}
		})
	}
	t.Run("derived k=0..9 buckets=1000", func(t *testing.T) {
		want := []int{0, 549, 338, 961, 172, 231, 421, 97, 191, 254}
		for k, w := range want {
			assert.Equal(t, w, JumpHash(uint64(k), 1000), "key %d", k)
		}
	})
}

// Keys 0..999,999 from 10 to 11 buckets: 90,877 move (computed with the
// paper's code), every one to bucket 10.
func TestJumpHashMonotone(t *testing.T) {
	moved := 0
	for k := range uint64(1_000_000) {
		a, b := JumpHash(k, 10), JumpHash(k, 11)
		if a != b {
			moved++
			require.Equal(t, 10, b, "key %d moved from %d to an old bucket", k, a)
		}
	}
	assert.Equal(t, 90_877, moved)
}
