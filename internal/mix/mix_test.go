package mix

import "testing"

// Known answers of splitmix64's finaliser, which shard's placements depend on.
func TestMix64KnownAnswers(t *testing.T) {
	cases := []struct{ in, want uint64 }{
		{0, 0},
		{1, 0x5692161d100b05e5},
		{0x9e3779b97f4a7c15, 0xe220a8397b1dcdaf},
	}
	for _, c := range cases {
		if got := Mix64(c.in); got != c.want {
			t.Errorf("Mix64(%#x) = %#x, want %#x", c.in, got, c.want)
		}
	}
}
