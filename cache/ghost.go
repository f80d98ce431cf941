package cache

import "github.com/bulwark-go/bulwark/internal/mix"

// ghost remembers the hashes of the keys that recently left one part of a
// TinyLFU shard (the window, or the main segment), for the window climber
// (climb.go). A key is remembered for span departures from that part: a
// part larger by span entries would have kept each key that much longer,
// so a miss on a key it still remembers is a hit the larger part would
// have had (the ghost lists of Megiddo and Modha's ARC, bounded to one
// step of the climber).
//
// It is a direct-mapped table of about 4×span slots, each holding a tag of
// the hash and the departure count when the key left. A later key with the
// same slot overwrites it, so a key is forgotten early with a chance that
// grows to about a quarter by the end of its span. Both parts' ghosts lose
// the same share, so comparing their counts stays fair. Departure counts
// are 32 bits and wrap: a slot left untouched for 2³² departures may be
// recalled once by mistake. A ghost is guarded by its shard's mutex and
// allocates nothing after newGhost.
type ghost struct {
	slots []ghostSlot
	mask  uint64
	span  uint32
	now   uint32 // departures so far
}

type ghostSlot struct {
	tag uint32 // 0: empty
	at  uint32 // ghost.now when the key left
}

func newGhost(span int) *ghost {
	n := pow2(4 * span)
	return &ghost{slots: make([]ghostSlot, n), mask: uint64(n - 1), span: uint32(span)}
}

// place returns h's slot and tag (never 0).
func (g *ghost) place(h uint64) (*ghostSlot, uint32) {
	x := mix.Mix64(h ^ 0x2545f4914f6cdd1d)
	return &g.slots[x&g.mask], uint32(x>>32) | 1
}

// depart counts one key leaving the part, remembered or not.
func (g *ghost) depart() { g.now++ }

// remember records that h left the cache at the current departure.
func (g *ghost) remember(h uint64) {
	s, tag := g.place(h)
	*s = ghostSlot{tag: tag, at: g.now}
}

// recall reports whether h left within the last span departures, and
// forgets it: a key counts once per departure.
func (g *ghost) recall(h uint64) bool {
	s, tag := g.place(h)
	if s.tag != tag || g.now-s.at >= g.span {
		return false
	}
	s.tag = 0
	return true
}

// ghostSpan is how many departures a shard of the given capacity
// remembers: climbStep of it, so that the ghosts measure what one step of
// the climber would change. A longer span in a small shard gives the
// climber more evidence but measures a larger step than it takes, and
// the sketch's rejections then read as a reason to grow the window (on a
// Zipf trace with periodic scans, 250-entry shards lost 0.7 points of hit
// ratio with a floor of 32).
func ghostSpan(capacity int) int {
	return max(1, int(climbStep*float64(capacity)))
}
