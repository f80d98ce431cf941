package main

import (
	"bytes"
	"strings"
	"testing"
)

const input = `goos: linux
BenchmarkX/bulwark         	100	 10.0 ns/op	 0 B/op	 0 allocs/op
BenchmarkX/peer            	100	 30.0 ns/op	 8 B/op	 1 allocs/op
BenchmarkX/bulwark         	100	 12.0 ns/op	 0 B/op	 0 allocs/op
BenchmarkX/peer            	100	 34.0 ns/op	 8 B/op	 1 allocs/op
BenchmarkX/bulwark         	100	 11.0 ns/op	 0 B/op	 0 allocs/op
BenchmarkX/peer            	100	 33.0 ns/op	 8 B/op	 1 allocs/op
BenchmarkX/bulwark-2       	100	 20.0 ns/op	 0 B/op	 0 allocs/op
BenchmarkX/peer-2          	100	 10.0 ns/op	 0 B/op	 0 allocs/op
BenchmarkY/size=10/bulwark 	100	 5.00 ns/op
`

func TestTable(t *testing.T) {
	rows, err := parse(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 {
		t.Fatalf("got %d rows, want 5", len(rows))
	}
	var out bytes.Buffer
	write(&out, rows)
	got := out.String()
	for _, want := range []string{
		"| cpu=1 | bulwark | 11.0 | 0 | 0 | 1.00× |", // median of 10, 12, 11
		"| cpu=1 | peer | 33.0 | 8 | 1 | 3.00× |",
		"| cpu=2 | peer | 10.0 | 0 | 0 | 0.50× |",
		"| size=10/cpu=1 | bulwark | 5.00 | 0 | 0 | 1.00× |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestParseRejectsGarbageValue(t *testing.T) {
	_, err := parse(strings.NewReader("BenchmarkX/bulwark 100 abc ns/op\n"))
	if err == nil || !strings.Contains(err.Error(), `"abc"`) {
		t.Fatalf("err = %v, want one naming the value", err)
	}
}

func TestExtraMetric(t *testing.T) {
	rows, err := parse(strings.NewReader("BenchmarkH/bulwark 1 9.0 ns/op 60.5 hit%\nBenchmarkH/peer 1 9.0 ns/op 38.25 hit%\n"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	write(&out, rows)
	for _, want := range []string{"| hit% |", "| cpu=1 | peer | 9.00 | 0 | 0 | 1.00× | 38.25 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
