package shard

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fourSpans() []Span {
	return []Span{
		{Start: "", End: "g", Member: "a"},
		{Start: "g", End: "n", Member: "b"},
		{Start: "n", End: "t", Member: "c"},
		{Start: "t", End: "", Member: "d"},
	}
}

func TestNewRangeRejects(t *testing.T) {
	tests := []struct {
		name    string
		spans   []Span
		want    error
		mention string
	}{
		{"no spans", nil, ErrNoMembers, ""},
		{"gap at start", []Span{{"b", "", "x"}}, ErrGap, "span 0"},
		{"gap at end", []Span{{"", "m", "x"}}, ErrGap, "after span 0"},
		{"gap between", []Span{{"", "c", "x"}, {"d", "", "y"}}, ErrGap, `span 1 ["d", +∞)→y`},
		{"overlap", []Span{{"", "d", "x"}, {"c", "", "y"}}, ErrOverlap, `span 1 ["c", +∞)→y`},
		{"overlap after +∞", []Span{{"", "", "x"}, {"c", "", "y"}}, ErrOverlap, "span 1"},
		{"unsorted", []Span{{"", "c", "x"}, {"m", "", "y"}, {"c", "m", "z"}}, ErrUnsorted, `span 2 ["c", "m")→z`},
		{"duplicate start", []Span{{"", "c", "x"}, {"c", "m", "y"}, {"c", "", "z"}}, ErrDuplicateStart, "span 2"},
		{"empty span", []Span{{"", "c", "x"}, {"c", "c", "y"}, {"c", "", "z"}}, ErrEmptySpan, "span 1"},
		{"inverted span", []Span{{"", "c", "x"}, {"c", "b", "y"}}, ErrEmptySpan, "span 1"},
		{"no member", []Span{{"", "", ""}}, ErrEmptyMember, "span 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRange(tt.spans)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.want), "got %v, want %v", err, tt.want)
			assert.Contains(t, err.Error(), tt.mention)
		})
	}
}

func TestRangeLocate(t *testing.T) {
	r, err := NewRange(fourSpans())
	require.NoError(t, err)
	tests := []struct{ key, want string }{
		{"", "a"}, {"abc", "a"}, {"f\xff", "a"}, {"g", "b"}, {"mzz", "b"},
		{"n", "c"}, {"s", "c"}, {"t", "d"}, {"zzzz", "d"}, {"\xff\xff", "d"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, r.Locate(tt.key), "key %q", tt.key)
	}
	assert.Equal(t, []string{"a", "b", "c", "d"}, r.Members())
	assert.Equal(t, fourSpans(), r.Spans())
}

func TestRangeSplitMerge(t *testing.T) {
	r, err := NewRange(fourSpans())
	require.NoError(t, err)
	s, err := r.Split("k", "e")
	require.NoError(t, err)
	assert.Equal(t, []Span{{"", "g", "a"}, {"g", "k", "b"}, {"k", "n", "e"}, {"n", "t", "c"}, {"t", "", "d"}}, s.Spans())
	assert.Equal(t, "e", s.Locate("kk"))
	assert.Equal(t, "b", s.Locate("j"))
	back, err := s.Merge("k")
	require.NoError(t, err)
	assert.Equal(t, r.Spans(), back.Spans(), "Merge(at) undoes Split(at)")

	// Split of the last span, and round trip.
	s2, err := r.Split("x", "z")
	require.NoError(t, err)
	assert.Equal(t, Span{"x", "", "z"}, s2.SpanOf("y"))
	back2, err := s2.Merge("x")
	require.NoError(t, err)
	assert.Equal(t, r.Spans(), back2.Spans())

	_, err = r.Split("g", "e")
	assert.ErrorIs(t, err, ErrNoBoundary, "split at an existing start")
	_, err = r.Merge("h")
	assert.ErrorIs(t, err, ErrNoBoundary, "merge at a non-boundary")
	_, err = r.Merge("")
	assert.ErrorIs(t, err, ErrNoBoundary, "merge at the start of the key space")
	assert.Equal(t, fourSpans(), r.Spans(), "the original is unchanged")
}

func TestRangeMigration(t *testing.T) {
	r, err := NewRange(fourSpans())
	require.NoError(t, err)
	m, err := r.BeginMove("g", "e")
	require.NoError(t, err)
	assert.Equal(t, "b", m.LocateRead("h"), "reads stay on the source")
	assert.Equal(t, "b", m.Locate("h"))
	owner, to := m.LocateWrite("h")
	assert.Equal(t, [2]string{"b", "e"}, [2]string{owner, to}, "writes go to both")
	owner, to = m.LocateWrite("a")
	assert.Equal(t, [2]string{"a", ""}, [2]string{owner, to}, "other spans are untouched")
	assert.Equal(t, []SpanMove{{Start: "g", End: "n", From: "b", To: "e"}}, m.Migrations())

	_, err = m.BeginMove("g", "f")
	assert.ErrorIs(t, err, ErrMoving)
	_, err = m.Split("h", "f")
	assert.ErrorIs(t, err, ErrMoving)
	_, err = m.Merge("n")
	assert.ErrorIs(t, err, ErrMoving)
	_, err = r.CompleteMove("g")
	assert.ErrorIs(t, err, ErrMoving, "nothing to complete")
	_, err = r.BeginMove("g", "b")
	assert.Error(t, err, "moving to the owner")
	_, err = r.BeginMove("h", "e")
	assert.ErrorIs(t, err, ErrNoBoundary)

	done, err := m.CompleteMove("g")
	require.NoError(t, err)
	assert.Equal(t, "e", done.LocateRead("h"))
	owner, to = done.LocateWrite("h")
	assert.Equal(t, [2]string{"e", ""}, [2]string{owner, to})
	assert.Empty(t, done.Migrations())

	aborted, err := m.AbortMove("g")
	require.NoError(t, err)
	assert.Equal(t, r.Spans(), aborted.Spans())
	assert.Empty(t, aborted.Migrations())
}

// bruteOwner is the linear-scan reference for Locate.
func bruteOwner(spans []Span, key string) string {
	for _, s := range spans {
		if s.contains(key) {
			return s.Member
		}
	}
	return ""
}

func TestRangeMovesExact(t *testing.T) {
	r, err := NewRange(fourSpans())
	require.NoError(t, err)
	after, err := r.Split("k", "e")
	require.NoError(t, err)
	after, err = after.Merge("t") // d's span joins c's: [n, +∞) → c
	require.NoError(t, err)
	after, err = after.BeginMove("", "z")
	require.NoError(t, err)
	after, err = after.CompleteMove("")
	require.NoError(t, err)

	got := RangeMoves(r, after)
	want := []SpanMove{
		{Start: "", End: "g", From: "a", To: "z"},
		{Start: "k", End: "n", From: "b", To: "e"},
		{Start: "t", End: "", From: "d", To: "c"},
	}
	assert.Equal(t, want, got)
	assert.Empty(t, RangeMoves(r, r))

	// Every key inside a reported span moves as stated; every other key stays.
	probe := []string{"", "a", "f", "g", "j", "k", "km", "m\xff", "n", "s", "t", "u", "zz"}
	for _, k := range probe {
		from, to := r.Locate(k), after.Locate(k)
		i := slices.IndexFunc(got, func(m SpanMove) bool { return Span{m.Start, m.End, "x"}.contains(k) })
		if i < 0 {
			assert.Equal(t, from, to, "key %q moved but is in no SpanMove", k)
			continue
		}
		assert.Equal(t, [2]string{got[i].From, got[i].To}, [2]string{from, to}, "key %q", k)
	}
}

func FuzzRangeLocate(f *testing.F) {
	f.Add("g\x00n\x00t", "mango")
	f.Add("", "")
	f.Add("a\x00a\x00b", "a")
	f.Add("\xff\x00\xfe", "\xff")
	f.Fuzz(func(t *testing.T, bounds, key string) {
		starts := append([]string{""}, strings.Split(bounds, "\x00")...)
		slices.Sort(starts)
		starts = slices.Compact(starts)
		spans := make([]Span, len(starts))
		for i, s := range starts {
			spans[i] = Span{Start: s, Member: "m" + strings.Repeat("i", i%7) + s}
			if i+1 < len(starts) {
				spans[i].End = starts[i+1]
			}
		}
		r, err := NewRange(spans)
		require.NoError(t, err, "spans built contiguous: %v", spans)
		require.Equal(t, bruteOwner(spans, key), r.Locate(key), "key %q", key)
		require.Equal(t, bruteOwner(spans, key), r.SpanOf(key).Member)
	})
}
