package shard

import (
	"fmt"
	"iter"
	"slices"
	"strconv"
	"sync"
)

// testKeys returns n synthetic keys "key-0", "key-1", …, shared between tests.
var testKeys = sync.OnceValue(func() []string {
	keys := make([]string, 1_000_000)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	return keys
})

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// loads counts keys per member.
func loads(r Router, keys []string) map[string]int {
	out := map[string]int{}
	for _, k := range keys {
		out[r.Locate(k)]++
	}
	return out
}

// maxOverMean is the largest load divided by the mean over members.
func maxOverMean(load map[string]int, members int, keys int) float64 {
	top := 0
	for _, c := range load {
		top = max(top, c)
	}
	return float64(top) / (float64(keys) / float64(members))
}

// movedTo returns the fraction of keys that move and the set of their targets.
func movedTo(before, after Router, keys []string) (float64, map[string]int) {
	targets := map[string]int{}
	n := 0
	for m := range Moves(before, after, slices.Values(keys)) {
		targets[m.To]++
		n++
	}
	return float64(n) / float64(len(keys)), targets
}

func seq(keys []string) iter.Seq[string] { return slices.Values(keys) }
