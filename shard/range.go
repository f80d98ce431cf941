package shard

import (
	"errors"
	"fmt"
	"slices"
)

// Span is a half-open key range [Start, End) owned by Member, in byte-wise
// string order. End == "" means +∞; Start == "" is the smallest key.
type Span struct {
	Start, End string
	Member     string
}

// String formats the span as [Start, End)→Member.
func (s Span) String() string {
	end := fmt.Sprintf("%q", s.End)
	if s.End == "" {
		end = "+∞"
	}
	return fmt.Sprintf("[%q, %s)→%s", s.Start, end, s.Member)
}

// contains reports whether key falls in the span.
func (s Span) contains(key string) bool {
	return s.Start <= key && (s.End == "" || key < s.End)
}

// Errors for range maps; each is wrapped in an error naming the span.
var (
	// ErrGap: the spans leave part of the key space without an owner.
	ErrGap = errors.New("shard: gap between spans")
	// ErrOverlap: two spans claim the same keys.
	ErrOverlap = errors.New("shard: overlapping spans")
	// ErrUnsorted: spans must be given in increasing Start order.
	ErrUnsorted = errors.New("shard: spans not sorted by Start")
	// ErrDuplicateStart: two spans have the same Start.
	ErrDuplicateStart = errors.New("shard: duplicate span start")
	// ErrEmptySpan: a span whose End is not after its Start.
	ErrEmptySpan = errors.New("shard: empty span")
	// ErrNoBoundary: Split, Merge or a move names a key that is not where the
	// operation needs it (inside a span for Split, a span start for the others).
	ErrNoBoundary = errors.New("shard: no such span boundary")
	// ErrMoving: the span is in migration (or, for CompleteMove, is not).
	ErrMoving = errors.New("shard: span in migration")
)

// Range is a range-sharding map: contiguous, non-overlapping spans covering
// the whole key space, each owned by a member, as in Bigtable tablets or
// Vitess key ranges. Locate is a binary search over the span starts.
//
// A span may be in migration (BeginMove … CompleteMove): reads still go to the
// source (LocateRead), writes go to both (LocateWrite), so the destination can
// be back-filled while traffic continues and switched over without losing a
// write. Split, Merge and the move steps return new maps.
//
// A Range is immutable and safe for concurrent use.
type Range struct {
	starts []string // starts[i] == spans[i].Start, for the search
	spans  []Span
	dest   []string // dest[i] is the migration target of spans[i], or ""
}

// NewRange returns a map over spans, which must be sorted by Start, begin at
// "", end at +∞ (End == "") and meet end to start. The error names the first
// offending span and wraps ErrGap, ErrOverlap, ErrUnsorted, ErrDuplicateStart,
// ErrEmptySpan, ErrEmptyMember or ErrNoMembers (no spans).
func NewRange(spans []Span) (*Range, error) {
	if err := checkSpans(spans); err != nil {
		return nil, err
	}
	return newRange(slices.Clone(spans), make([]string, len(spans))), nil
}

func newRange(spans []Span, dest []string) *Range {
	r := &Range{spans: spans, dest: dest, starts: make([]string, len(spans))}
	for i, s := range spans {
		r.starts[i] = s.Start
	}
	return r
}

// checkSpans checks order first (so an unsorted list is reported as such, not
// as the gap it also leaves), then that neighbours meet end to start.
func checkSpans(spans []Span) error {
	if len(spans) == 0 {
		return ErrNoMembers
	}
	for _, check := range []func([]Span, int) error{checkOrder, checkContiguous} {
		for i, s := range spans {
			if err := check(spans, i); err != nil {
				return fmt.Errorf("%w: span %d %v", err, i, s)
			}
		}
	}
	if last := spans[len(spans)-1]; last.End != "" {
		return fmt.Errorf("%w: after span %d %v (last End must be \"\", +∞)", ErrGap, len(spans)-1, last)
	}
	return nil
}

// checkOrder checks span i on its own and its Start against its predecessor's.
func checkOrder(spans []Span, i int) error {
	s := spans[i]
	switch {
	case s.Member == "":
		return ErrEmptyMember
	case s.End != "" && s.End <= s.Start:
		return ErrEmptySpan
	case i > 0 && s.Start == spans[i-1].Start:
		return ErrDuplicateStart
	case i > 0 && s.Start < spans[i-1].Start:
		return ErrUnsorted
	}
	return nil
}

// checkContiguous checks that span i starts where its predecessor ends.
func checkContiguous(spans []Span, i int) error {
	s := spans[i]
	if i == 0 {
		if s.Start != "" {
			return fmt.Errorf("%w (first Start must be \"\")", ErrGap)
		}
		return nil
	}
	prev := spans[i-1]
	switch {
	case prev.End == "" || s.Start < prev.End:
		return fmt.Errorf("%w with span %d", ErrOverlap, i-1)
	case s.Start > prev.End:
		return fmt.Errorf("%w after span %d", ErrGap, i-1)
	}
	return nil
}

// index returns the index of the span containing key.
func (r *Range) index(key string) int {
	// Largest i with starts[i] <= key; starts[0] == "" so i ≥ 0.
	lo, hi := 1, len(r.starts)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.starts[mid] <= key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo - 1
}

// Locate returns the member that owns key. During a migration that is the
// source, as for LocateRead.
func (r *Range) Locate(key string) string { return r.spans[r.index(key)].Member }

// LocateRead returns the member to read key from: the owner, which during a
// migration is still the source.
func (r *Range) LocateRead(key string) string { return r.spans[r.index(key)].Member }

// LocateWrite returns the members a write of key must reach: the owner, and
// during a migration of its span also the destination (to; "" otherwise).
func (r *Range) LocateWrite(key string) (owner, to string) {
	i := r.index(key)
	return r.spans[i].Member, r.dest[i]
}

// SpanOf returns the span that contains key.
func (r *Range) SpanOf(key string) Span { return r.spans[r.index(key)] }

// Spans returns a copy of the spans in key order.
func (r *Range) Spans() []Span { return slices.Clone(r.spans) }

// Members returns the distinct owners, in order of their first span.
func (r *Range) Members() []string {
	var out []string
	for _, s := range r.spans {
		if !slices.Contains(out, s.Member) {
			out = append(out, s.Member)
		}
	}
	return out
}

// Migrations returns the spans in migration, as moves from owner to target.
func (r *Range) Migrations() []SpanMove {
	var out []SpanMove
	for i, s := range r.spans {
		if r.dest[i] != "" {
			out = append(out, SpanMove{Start: s.Start, End: s.End, From: s.Member, To: r.dest[i]})
		}
	}
	return out
}

// Split returns a map in which the span containing at is cut in two at at:
// [Start, at) stays with its owner and [at, End) goes to member. at must lie
// strictly inside a span that is not in migration.
func (r *Range) Split(at, member string) (*Range, error) {
	if member == "" {
		return nil, ErrEmptyMember
	}
	i := r.index(at)
	s := r.spans[i]
	if s.Start == at {
		return nil, fmt.Errorf("%w: split at %q, already a span start", ErrNoBoundary, at)
	}
	if r.dest[i] != "" {
		return nil, fmt.Errorf("%w: split of span %d %v", ErrMoving, i, s)
	}
	spans := slices.Insert(slices.Clone(r.spans), i+1, Span{Start: at, End: s.End, Member: member})
	spans[i].End = at
	dest := slices.Insert(slices.Clone(r.dest), i+1, "")
	return newRange(spans, dest), nil
}

// Merge returns a map without the boundary at at: the span starting at at joins
// the span before it and takes that span's owner, so Merge(at) undoes
// Split(at, m). Neither span may be in migration.
func (r *Range) Merge(at string) (*Range, error) {
	i, err := r.spanStarting(at)
	if err != nil {
		return nil, err
	}
	if i == 0 {
		return nil, fmt.Errorf("%w: merge at \"\", the start of the key space", ErrNoBoundary)
	}
	if r.dest[i-1] != "" || r.dest[i] != "" {
		return nil, fmt.Errorf("%w: merge at %q", ErrMoving, at)
	}
	spans := slices.Delete(slices.Clone(r.spans), i, i+1)
	spans[i-1].End = r.spans[i].End
	dest := slices.Delete(slices.Clone(r.dest), i, i+1)
	return newRange(spans, dest), nil
}

// BeginMove returns a map in which the span starting at start is in migration
// to member to: LocateRead keeps answering the owner, LocateWrite answers both.
func (r *Range) BeginMove(start, to string) (*Range, error) {
	i, err := r.spanStarting(start)
	if err != nil {
		return nil, err
	}
	switch {
	case to == "":
		return nil, ErrEmptyMember
	case r.dest[i] != "":
		return nil, fmt.Errorf("%w: span %d %v already moving to %s", ErrMoving, i, r.spans[i], r.dest[i])
	case r.spans[i].Member == to:
		return nil, fmt.Errorf("shard: span %d %v already owned by %q", i, r.spans[i], to)
	}
	dest := slices.Clone(r.dest)
	dest[i] = to
	return newRange(slices.Clone(r.spans), dest), nil
}

// CompleteMove returns a map in which the migration of the span starting at
// start is finished: the destination owns it and takes reads and writes alone.
func (r *Range) CompleteMove(start string) (*Range, error) {
	return r.endMove(start, true)
}

// AbortMove returns a map in which the migration of the span starting at start
// is cancelled: the source keeps the span.
func (r *Range) AbortMove(start string) (*Range, error) {
	return r.endMove(start, false)
}

func (r *Range) endMove(start string, complete bool) (*Range, error) {
	i, err := r.spanStarting(start)
	if err != nil {
		return nil, err
	}
	if r.dest[i] == "" {
		return nil, fmt.Errorf("%w: span %d %v is not moving", ErrMoving, i, r.spans[i])
	}
	spans, dest := slices.Clone(r.spans), slices.Clone(r.dest)
	if complete {
		spans[i].Member = dest[i]
	}
	dest[i] = ""
	return newRange(spans, dest), nil
}

func (r *Range) spanStarting(start string) (int, error) {
	i := r.index(start)
	if r.spans[i].Start != start {
		return 0, fmt.Errorf("%w: no span starts at %q", ErrNoBoundary, start)
	}
	return i, nil
}
