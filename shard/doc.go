// Package shard provides stable hashing and routers that map a key to the
// member that owns it (a cache node, a database shard, a queue partition),
// plus what a membership change needs: the plan of keys that move and a
// scatter-gather across members.
//
// The three-line use:
//
//	ring, err := shard.NewRing([]string{"cache-a", "cache-b", "cache-c"}, shard.RingConfig{})
//	// handle err
//	owner := ring.Locate("user:42") // the same owner in every process
//
// Most users want a Ring: members may join and leave in any order, a member
// that joins takes about 1/(n+1) of the keys and a member that leaves gives
// away only its own, and LocateN names replicas. Pick another router when its
// property is the one you need:
//
//   - Jump (NewJump): no table and perfect balance over numbered slots, for
//     members that are mostly appended (storage buckets, partitions).
//   - Bounded (NewBounded): no member above LoadFactor times the mean, a
//     strict cap that a ring only approaches.
//   - Maglev (NewMaglev): a lookup table with near-perfect balance, for load
//     balancers that route many keys to a stable fleet.
//   - Rendezvous (NewRendezvous): exact weighted shares and minimal movement;
//     Locate scores every member, so keep it to a few dozen.
//   - Range (NewRange): ordered key spans, for scans and hand-placed hot
//     spots, with Split, Merge and a live migration protocol.
//
// Every router implements Router (Locate, Members) and all but Range implement
// Replicated (LocateN). Moves, MovedFraction and RangeMoves compute the
// resharding plan between two routers; Gather and GatherAll fan a call out to
// members with bounded concurrency.
//
// # Concurrency
//
// Every exported type is safe for concurrent use. Routers are immutable
// values: Locate never locks or allocates, and With, Without (and Split,
// Merge, BeginMove, CompleteMove on a Range) return a new router, so a service
// keeps the current one in an atomic.Pointer and swaps it on change while
// readers go on. Gather and GatherAll start goroutines that have all returned
// when the call returns.
//
// # Stability
//
// Hash (XXH64, seed 0) and the placement rule documented on each router are
// part of the API: the same members and configuration give the same owner for
// a key in every process, on every machine and in every release, because the
// answer decides where data lives. Known-answer tests pin every rule. Hashing
// routers depend only on the set of members, not on the order given (Jump is
// the exception: it routes to slots).
//
// # Errors
//
// Constructors return an error, never panic: errors.Is matches ErrNoMembers,
// ErrEmptyMember, ErrDuplicateMember or ErrUnknownMember for a bad member
// list, ErrGap, ErrOverlap and their kin for a bad span list, and
// ErrInvalidConfig for a Config field out of range, with a message that names
// the field and value ("shard: MaglevConfig.TableSize 65536 not prime").
//
// # References
//
//   - Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm",
//     2014, https://arxiv.org/abs/1406.2294 (JumpHash).
//   - Karger, Lehman, Leighton, Panigrahy, Levine & Lewin, "Consistent Hashing
//     and Random Trees", STOC 1997, https://doi.org/10.1145/258533.258660
//     (Ring).
//   - Mirrokni, Thorup & Zadimoghaddam, "Consistent Hashing with Bounded
//     Loads", SODA 2018, https://arxiv.org/abs/1608.01350 (Bounded).
//   - Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
//     Balancer", NSDI 2016,
//     https://www.usenix.org/conference/nsdi16/technical-sessions/presentation/eisenbud
//     (Maglev).
//   - Thaler & Ravishankar, "Using Name-Based Mappings to Increase Hit Rates",
//     IEEE/ACM Transactions on Networking, 1998,
//     https://doi.org/10.1109/90.663936 (Rendezvous).
package shard
