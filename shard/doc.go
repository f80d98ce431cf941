// Package shard provides stable hashing and routers that map keys to named
// members: jump, ring, bounded-load, Maglev and rendezvous hashing, range maps
// with split, merge and migration, resharding move plans, and scatter-gather.
//
// The three-line use:
//
//	r, err := shard.NewRing([]string{"a", "b", "c"}, shard.RingConfig{})
//	...
//	owner := r.Locate("user:42")
//
// References: Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash
// Algorithm" (2014); Karger et al. (1997); Eisenbud et al., "Maglev", NSDI 2016;
// Thaler & Ravishankar (1998, rendezvous); Mirrokni, Thorup, Zadimoghaddam (2018).
package shard
