package svg

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

// wellFormed parses doc as XML and counts its elements by name.
func wellFormed(t *testing.T, doc []byte) map[string]int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	count := map[string]int{}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return count
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok {
			count[se.Name.Local]++
		}
	}
}

func TestPlotOneLinePerSeries(t *testing.T) {
	p := Plot{Title: "hit ratio <zipf>", XLabel: "capacity", YLabel: "hit %", LogX: true,
		Series: []Series{
			{Name: "LRU", Points: []Point{{1000, 20}, {10000, 45}, {100000, 70}}},
			{Name: "TinyLFU & co", Points: []Point{{1000, 30}, {10000, 55}, {100000, 75}}},
			{Name: "optimum", Points: []Point{{1000, 40}, {100000, 80}}, Dashed: true},
		}}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	count := wellFormed(t, buf.Bytes())
	if count["polyline"] != 3 {
		t.Errorf("polylines = %d, want 3", count["polyline"])
	}
	if count["circle"] != 8 {
		t.Errorf("markers = %d, want 8", count["circle"])
	}
	out := buf.String()
	for _, want := range []string{"hit ratio &lt;zipf&gt;", "TinyLFU &amp; co", "capacity", "hit %", ">1k<", ">100k<", "stroke-dasharray"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestGridPlacesPlots(t *testing.T) {
	one := Plot{Title: "a", Series: []Series{{Name: "s", Points: []Point{{0, 0}, {1, 1}}}}}
	var buf bytes.Buffer
	if err := Grid(&buf, 2, one, one, one); err != nil {
		t.Fatal(err)
	}
	count := wellFormed(t, buf.Bytes())
	if count["g"] != 3 || count["polyline"] != 3 {
		t.Errorf("groups %d, polylines %d; want 3 and 3", count["g"], count["polyline"])
	}
	if !strings.Contains(buf.String(), `width="1120" height="720"`) {
		t.Errorf("two columns, two rows of 560×360 expected:\n%.200s", buf.String())
	}
}

func TestPlotRejectsBadInput(t *testing.T) {
	for name, p := range map[string]Plot{
		"no points":   {Title: "empty"},
		"NaN":         {Series: []Series{{Points: []Point{{1, math.NaN()}}}}},
		"log of zero": {LogX: true, Series: []Series{{Points: []Point{{0, 1}}}}},
		"too small":   {Width: 100, Height: 50, Series: []Series{{Points: []Point{{1, 1}}}}},
	} {
		if err := p.Write(io.Discard); err == nil || !strings.HasPrefix(err.Error(), "svg: ") {
			t.Errorf("%s: err = %v, want an svg: error", name, err)
		}
	}
	if err := Grid(io.Discard, 0); err == nil {
		t.Error("Grid with cols 0 accepted")
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tt := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 100, "[0 20 40 60 80 100]"},
		{12, 67, "[0 20 40 60 80]"},
		{0.5, 0.5, "[-0.5 0 0.5 1 1.5]"},
	} {
		got := niceTicks(tt.lo, tt.hi)
		if s := strings.Join(strings.Fields(strings.Trim(fmtFloats(got), "[]")), " "); "["+s+"]" != tt.want {
			t.Errorf("niceTicks(%v, %v) = %v, want %s", tt.lo, tt.hi, got, tt.want)
		}
	}
	if got := logTicks(1000, 100000); len(got) != 7 || got[0] != 1000 || got[6] != 100000 {
		t.Errorf("logTicks(1e3, 1e5) = %v", got)
	}
}

func fmtFloats(v []float64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(label(x))
	}
	b.WriteByte(']')
	return b.String()
}
