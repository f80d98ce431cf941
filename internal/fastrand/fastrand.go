// Package fastrand is the module's fast, lock-free random source: wyrand
// (Wang Yi; the generator behind Go's runtime.cheaprand) on atomic words.
//
// A draw is one atomic add and a 64×64→128 multiply, much cheaper than
// math/rand/v2's ChaCha8-backed rand.Uint64. Its statistical quality
// (BigCrush- and PractRand-clean) is ample for jitter and for picking nodes;
// it is not unpredictable: never use it for anything security-related.
package fastrand

import (
	"math/bits"
	"math/rand/v2"
	"sync/atomic"

	"github.com/bulwark-go/bulwark/internal/stripe"
)

const (
	weyl = 0xa0761d6478bd642f // wyrand's increment
	fold = 0xe7037ed1a0b428db // wyrand's multiplier
)

// Source is one wyrand state on its own cache line. Concurrent draws are
// lock-free and each gets a distinct step of the sequence; they serialise on
// the line, so use Striped where many goroutines draw at once. The zero
// Source is valid but unseeded: call Seed.
type Source struct {
	_ [64]byte
	s atomic.Uint64
	_ [56]byte
}

// Seed sets the state.
func (s *Source) Seed(seed uint64) { s.s.Store(seed) }

// Uint64 returns 64 uniformly distributed random bits.
func (s *Source) Uint64() uint64 { return wy(s.s.Add(weyl)) }

func wy(x uint64) uint64 {
	hi, lo := bits.Mul64(x, x^fold)
	return hi ^ lo
}

// Stripes is the number of states in a Striped source.
const Stripes = 8

// Striped is Stripes wyrand states, one cache line each; a goroutine draws
// from the state its stack address picks (see package stripe), so draws
// running in parallel rarely write the same line. Each state's output is a
// wyrand sequence. Seed it before use (NewStriped does).
type Striped struct {
	rng  [Stripes]Source
	mask uint64 // Stripes-1, or 0 to draw from one stream (tests)
}

// NewStriped returns a Striped source seeded from the runtime's OS-seeded
// generator, so processes started together do not share a sequence.
func NewStriped() *Striped {
	s := &Striped{}
	s.SeedRandom()
	return s
}

// SeedRandom seeds every state from the runtime's OS-seeded generator.
func (s *Striped) SeedRandom() {
	for i := range s.rng {
		s.rng[i].Seed(rand.Uint64())
	}
	s.mask = Stripes - 1
}

// SeedOne makes s one deterministic stream from seed, for tests.
func (s *Striped) SeedOne(seed uint64) {
	s.rng[0].Seed(seed)
	s.mask = 0
}

var shift = stripe.Shift(Stripes)

// Uint64 returns 64 uniformly distributed random bits.
func (s *Striped) Uint64() uint64 {
	return s.rng[stripe.Index(shift)&s.mask].Uint64()
}

// global is the package-wide source behind Uint64.
var global Source

func init() { global.Seed(rand.Uint64()) }

// Uint64 returns 64 random bits from one package-wide source, seeded at
// start from the OS. Use it where draws are rare (a backoff delay per failed
// attempt); use a Striped source on hot paths.
func Uint64() uint64 { return global.Uint64() }

// N returns a uniform value in [0, n) by Lemire's multiply-shift reduction
// (Lemire, "Fast Random Integer Generation in an Interval", ACM TOMACS
// 2019), without the rejection step: the bias is below n/2^64.
func N(u, n uint64) uint64 {
	hi, _ := bits.Mul64(u, n)
	return hi
}
