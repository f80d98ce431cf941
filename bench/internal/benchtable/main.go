// Command benchtable turns raw `go test -bench` output into Markdown tables that
// put bulwark beside its peers: the median ns/op, B/op and allocs/op of every
// benchmark, and the ratio of each row's median ns/op to bulwark's in the same
// group and run.
//
// Benchmarks are expected to be named Benchmark<Thing>/.../<lib>/... with the
// library in one name component; the component that starts with "bulwark" in
// some row of a Benchmark<Thing> marks where the library sits. Rows that differ
// only in that component (and share the -cpu suffix) form a group, and the
// first bulwark row of the group is its baseline. A ratio below 1 means the
// row is faster than bulwark; above 1, slower.
//
// Usage: go run ./internal/benchtable results/retry.txt [more files...]
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// sample is one benchmark line's measurements.
type sample struct {
	ns, bytes, allocs float64
	extra             map[string]float64 // b.ReportMetric units, e.g. "hit%"
}

// row is one benchmark name (with its -cpu suffix) and all its samples.
type row struct {
	name    string // full name without the "Benchmark" prefix and -cpu suffix
	cpu     string
	samples []sample
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtable file.txt [file.txt...]")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		rows, err := parse(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
		write(os.Stdout, rows)
	}
}

// parse reads benchmark lines in order of first appearance.
func parse(r io.Reader) ([]*row, error) {
	var rows []*row
	index := map[string]*row{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name, cpu := splitCPU(strings.TrimPrefix(fields[0], "Benchmark"))
		var s sample
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %q: value %q: %w", sc.Text(), fields[i], err)
			}
			switch fields[i+1] {
			case "ns/op":
				s.ns = v
			case "B/op":
				s.bytes = v
			case "allocs/op":
				s.allocs = v
			default:
				if s.extra == nil {
					s.extra = map[string]float64{}
				}
				s.extra[fields[i+1]] = v
			}
		}
		key := name + "@" + cpu
		rw := index[key]
		if rw == nil {
			rw = &row{name: name, cpu: cpu}
			index[key] = rw
			rows = append(rows, rw)
		}
		rw.samples = append(rw.samples, s)
	}
	return rows, sc.Err()
}

// splitCPU separates the "-N" GOMAXPROCS suffix go test appends when N > 1.
func splitCPU(name string) (string, string) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name, "1"
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name, "1"
	}
	return name[:i], name[i+1:]
}

// write prints one table per top-level benchmark.
func write(w io.Writer, rows []*row) {
	var tops []string
	byTop := map[string][]*row{}
	for _, r := range rows {
		top, _, _ := strings.Cut(r.name, "/")
		if _, ok := byTop[top]; !ok {
			tops = append(tops, top)
		}
		byTop[top] = append(byTop[top], r)
	}
	for _, top := range tops {
		writeTop(w, top, byTop[top])
	}
}

func writeTop(w io.Writer, top string, rows []*row) {
	libPos := libPosition(rows)
	type group struct {
		key  string
		rows []*row
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, r := range rows {
		key := groupKey(r, libPos)
		g := byKey[key]
		if g == nil {
			g = &group{key: key}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.rows = append(g.rows, r)
	}
	sort.SliceStable(groups, func(i, j int) bool { return cpuOf(groups[i].key) < cpuOf(groups[j].key) })

	units := extraUnits(rows)
	fmt.Fprintf(w, "\n#### Benchmark%s\n\n", top)
	fmt.Fprint(w, "| case | library | ns/op (median) | B/op | allocs/op | ns/op ÷ bulwark |")
	for _, u := range units {
		fmt.Fprintf(w, " %s |", u)
	}
	fmt.Fprint(w, "\n|---|---|--:|--:|--:|--:|")
	for range units {
		fmt.Fprint(w, "--:|")
	}
	fmt.Fprintln(w)
	for _, g := range groups {
		base := baseline(g.rows, libPos)
		for _, r := range g.rows {
			m := median(r.samples)
			ratio := "–"
			if base != nil && libPos >= 0 {
				if b := median(base.samples).ns; b > 0 {
					ratio = fmt.Sprintf("%.2f×", m.ns/b)
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %.0f | %.0f | %s |",
				caseName(r, libPos), lib(r, libPos), formatNs(m.ns), m.bytes, m.allocs, ratio)
			for _, u := range units {
				fmt.Fprintf(w, " %.2f |", m.extra[u])
			}
			fmt.Fprintln(w)
		}
	}
}

// libPosition finds the name component that holds "bulwark…", or -1.
func libPosition(rows []*row) int {
	for _, r := range rows {
		for i, c := range strings.Split(r.name, "/") {
			if i > 0 && strings.HasPrefix(c, "bulwark") {
				return i
			}
		}
	}
	return -1
}

func parts(r *row) []string { return strings.Split(r.name, "/") }

func lib(r *row, pos int) string {
	p := parts(r)
	if pos < 0 || pos >= len(p) {
		return "bulwark"
	}
	return p[pos]
}

// caseName is the name without the top-level part and the library, plus -cpu.
func caseName(r *row, pos int) string {
	p := parts(r)
	var rest []string
	for i, c := range p {
		if i == 0 || i == pos {
			continue
		}
		rest = append(rest, c)
	}
	rest = append(rest, "cpu="+r.cpu)
	return strings.Join(rest, "/")
}

func groupKey(r *row, pos int) string { return caseName(r, pos) }

func cpuOf(key string) string {
	i := strings.LastIndex(key, "cpu=")
	return key[i:]
}

func baseline(rows []*row, pos int) *row {
	for _, r := range rows {
		if strings.HasPrefix(lib(r, pos), "bulwark") {
			return r
		}
	}
	return nil
}

func median(ss []sample) sample {
	pick := func(get func(sample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = get(s)
		}
		slices.Sort(v)
		n := len(v)
		if n%2 == 1 {
			return v[n/2]
		}
		return (v[n/2-1] + v[n/2]) / 2
	}
	m := sample{
		ns:     pick(func(s sample) float64 { return s.ns }),
		bytes:  pick(func(s sample) float64 { return s.bytes }),
		allocs: pick(func(s sample) float64 { return s.allocs }),
		extra:  map[string]float64{},
	}
	for _, u := range extraUnits([]*row{{samples: ss}}) {
		m.extra[u] = pick(func(s sample) float64 { return s.extra[u] })
	}
	return m
}

// extraUnits lists, sorted, the custom metric units reported in rows.
func extraUnits(rows []*row) []string {
	seen := map[string]bool{}
	var units []string
	for _, r := range rows {
		for _, s := range r.samples {
			for u := range s.extra {
				if !seen[u] {
					seen[u] = true
					units = append(units, u)
				}
			}
		}
	}
	slices.Sort(units)
	return units
}

func formatNs(ns float64) string {
	switch {
	case ns >= 100:
		return strconv.FormatFloat(ns, 'f', 0, 64)
	case ns >= 10:
		return strconv.FormatFloat(ns, 'f', 1, 64)
	default:
		return strconv.FormatFloat(ns, 'f', 2, 64)
	}
}
