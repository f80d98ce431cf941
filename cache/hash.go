package cache

import (
	"hash/maphash"
	"unsafe"

	"github.com/bulwark-go/bulwark/internal/mix"
)

// hasher picks a shard and a bucket for a key. Both need only an
// in-process hash, so it uses hash/maphash with a per-cache random seed;
// for 8-byte integer keys it uses the module's splitmix64 finaliser on the
// key xor a seed instead, about half the cost of maphash.Comparable.
type hasher[K comparable] struct {
	seed maphash.Seed
	mix  uint64 // seed for the integer finaliser
	kind uint8
	_    [7]byte
}

const (
	kindComparable uint8 = iota
	kindString
	kindWord // int, uint, int64, uint64 or uintptr of 8 bytes
)

func newHasher[K comparable]() hasher[K] {
	h := hasher[K]{seed: maphash.MakeSeed()}
	h.mix = maphash.Comparable(h.seed, uint64(mix.Golden))
	var zero K
	switch any(zero).(type) {
	case string:
		h.kind = kindString
	case int, uint, int64, uint64, uintptr:
		if unsafe.Sizeof(zero) == 8 {
			h.kind = kindWord
		}
	}
	return h
}

func (h *hasher[K]) sum(key K) uint64 {
	switch h.kind {
	case kindWord:
		return mix.Mix64(*(*uint64)(unsafe.Pointer(&key)) ^ h.mix)
	case kindString:
		return maphash.String(h.seed, *(*string)(unsafe.Pointer(&key)))
	}
	return maphash.Comparable(h.seed, key)
}
