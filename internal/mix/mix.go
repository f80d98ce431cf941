// Package mix holds the module's one 64-bit finaliser.
package mix

// Mix64 is the splitmix64 finaliser (Steele, Lea, Flood, "Fast Splittable
// Pseudorandom Number Generators", OOPSLA 2014): a bijection on uint64 with
// full avalanche. shard derives placements from it, so its output is part of
// shard's stable API: never change it.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Golden is 2^64 divided by the golden ratio, the multiplier of Fibonacci
// hashing (Knuth, TAOCP vol. 3, 6.4): consecutive inputs land far apart in
// the top bits of the product.
const Golden = 0x9e3779b97f4a7c15
