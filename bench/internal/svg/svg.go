// Package svg draws line plots as standalone SVG documents, with no
// dependency beyond the standard library: each series is a polyline with
// markers, and a plot has a title, axis labels, ticks and a legend.
//
//	p := svg.Plot{Title: "hit ratio", XLabel: "capacity", YLabel: "%", LogX: true,
//		Series: []svg.Series{{Name: "LRU", Points: []svg.Point{{1000, 20}, {10000, 45}}}}}
//	err := p.Write(w)
//
// Grid puts several plots side by side in one document.
package svg

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Point is one (x, y) sample.
type Point struct{ X, Y float64 }

// Series is one line of a plot.
type Series struct {
	Name   string
	Points []Point
	// Dashed draws the line dashed (e.g. for a bound such as an optimum).
	Dashed bool
}

// Plot is one line plot. Zero fields take defaults: 560×360 pixels, axes
// fitted to the data.
type Plot struct {
	Title, XLabel, YLabel string
	Series                []Series
	Width, Height         int
	// LogX spaces the x axis logarithmically (all x must be > 0).
	LogX bool
	// YMin and YMax fix the y range when YMax > YMin.
	YMin, YMax float64
}

// palette is a colour-blind-safe qualitative palette (Okabe and Ito).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"}

const (
	marginLeft   = 64
	marginRight  = 150 // legend
	marginTop    = 36
	marginBottom = 52
)

// Write writes p as a standalone SVG document.
func (p Plot) Write(w io.Writer) error {
	return Grid(w, 1, p)
}

// Grid writes the plots as one SVG document, cols plots per row.
func Grid(w io.Writer, cols int, plots ...Plot) error {
	if cols < 1 {
		return fmt.Errorf("svg: Grid cols %d < 1", cols)
	}
	if len(plots) == 0 {
		return errors.New("svg: Grid without plots")
	}
	cellW, cellH := 0, 0
	for i := range plots {
		p := &plots[i]
		if p.Width == 0 {
			p.Width = 560
		}
		if p.Height == 0 {
			p.Height = 360
		}
		if err := p.check(); err != nil {
			return err
		}
		cellW, cellH = max(cellW, p.Width), max(cellH, p.Height)
	}
	rows := (len(plots) + cols - 1) / cols
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		cellW*min(cols, len(plots)), cellH*rows, cellW*min(cols, len(plots)), cellH*rows)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for i, p := range plots {
		fmt.Fprintf(bw, `<g transform="translate(%d,%d)">`+"\n", (i%cols)*cellW, (i/cols)*cellH)
		p.draw(bw)
		fmt.Fprintln(bw, `</g>`)
	}
	fmt.Fprintln(bw, `</svg>`)
	return bw.Flush()
}

func (p *Plot) check() error {
	if p.Width <= marginLeft+marginRight || p.Height <= marginTop+marginBottom {
		return fmt.Errorf("svg: Plot %q size %d×%d too small", p.Title, p.Width, p.Height)
	}
	n := 0
	for _, s := range p.Series {
		for _, pt := range s.Points {
			if math.IsNaN(pt.X) || math.IsNaN(pt.Y) || math.IsInf(pt.X, 0) || math.IsInf(pt.Y, 0) {
				return fmt.Errorf("svg: series %q point (%v, %v) not finite", s.Name, pt.X, pt.Y)
			}
			if p.LogX && pt.X <= 0 {
				return fmt.Errorf("svg: series %q x %v not > 0 on a log axis", s.Name, pt.X)
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("svg: Plot %q has no points", p.Title)
	}
	return nil
}

// axis maps data values to pixels.
type axis struct {
	lo, hi     float64 // data range (log10 of it for a log axis)
	pxLo, pxHi float64
	log        bool
}

func (a axis) px(v float64) float64 {
	if a.log {
		v = math.Log10(v)
	}
	if a.hi == a.lo {
		return (a.pxLo + a.pxHi) / 2
	}
	return a.pxLo + (v-a.lo)/(a.hi-a.lo)*(a.pxHi-a.pxLo)
}

func (p *Plot) ranges() (xlo, xhi, ylo, yhi float64) {
	xlo, ylo = math.Inf(1), math.Inf(1)
	xhi, yhi = math.Inf(-1), math.Inf(-1)
	for _, s := range p.Series {
		for _, pt := range s.Points {
			xlo, xhi = min(xlo, pt.X), max(xhi, pt.X)
			ylo, yhi = min(ylo, pt.Y), max(yhi, pt.Y)
		}
	}
	if p.YMax > p.YMin {
		ylo, yhi = p.YMin, p.YMax
	}
	return
}

func (p *Plot) draw(w io.Writer) {
	xlo, xhi, ylo, yhi := p.ranges()
	var xt, yt []float64
	if p.LogX {
		xt = logTicks(xlo, xhi)
		xlo, xhi = math.Log10(min(xlo, xt[0])), math.Log10(max(xhi, xt[len(xt)-1]))
	} else {
		xt = niceTicks(xlo, xhi)
		xlo, xhi = min(xlo, xt[0]), max(xhi, xt[len(xt)-1])
	}
	yt = niceTicks(ylo, yhi)
	if !(p.YMax > p.YMin) {
		ylo, yhi = min(ylo, yt[0]), max(yhi, yt[len(yt)-1])
	}
	left, right := float64(marginLeft), float64(p.Width-marginRight)
	top, bottom := float64(marginTop), float64(p.Height-marginBottom)
	x := axis{lo: xlo, hi: xhi, pxLo: left, pxHi: right, log: p.LogX}
	y := axis{lo: ylo, hi: yhi, pxLo: bottom, pxHi: top}

	fmt.Fprintf(w, `<text x="%g" y="20" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+"\n", (left+right)/2, esc(p.Title))
	for _, v := range yt {
		if v < ylo || v > yhi {
			continue
		}
		py := y.px(v)
		fmt.Fprintf(w, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`+"\n", left, py, right, py)
		fmt.Fprintf(w, `<text x="%g" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", left-6, py, label(v))
	}
	for _, v := range xt {
		px := x.px(v)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#ddd"/>`+"\n", px, top, px, bottom)
		fmt.Fprintf(w, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", px, bottom+16, label(v))
	}
	fmt.Fprintf(w, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#444"/>`+"\n", left, top, right-left, bottom-top)
	fmt.Fprintf(w, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", (left+right)/2, bottom+38, esc(p.XLabel))
	fmt.Fprintf(w, `<text x="16" y="%g" text-anchor="middle" transform="rotate(-90 16 %g)">%s</text>`+"\n", (top+bottom)/2, (top+bottom)/2, esc(p.YLabel))

	for i, s := range p.Series {
		color := palette[i%len(palette)]
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		var pts strings.Builder
		for j, pt := range s.Points {
			if j > 0 {
				pts.WriteByte(' ')
			}
			fmt.Fprintf(&pts, "%.1f,%.1f", x.px(pt.X), y.px(pt.Y))
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"><title>%s</title></polyline>`+"\n", color, dash, pts.String(), esc(s.Name))
		for _, pt := range s.Points {
			fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x.px(pt.X), y.px(pt.Y), color)
		}
		ly := top + 8 + float64(i)*18
		fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"%s/>`+"\n", right+12, ly, right+36, ly, color, dash)
		fmt.Fprintf(w, `<text x="%g" y="%g" dominant-baseline="middle">%s</text>`+"\n", right+42, ly, esc(s.Name))
	}
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// label formats a tick value briefly: 10000 as 10k, 0.25 as 0.25.
func label(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6 && math.Mod(v, 1e6) == 0:
		return fmt.Sprintf("%gM", v/1e6)
	case a >= 1e3 && math.Mod(v, 1e3) == 0:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%.4g", v)
}

// niceTicks returns 4–10 evenly spaced round values covering [lo, hi]
// (steps of 1, 2 or 5 times a power of ten).
func niceTicks(lo, hi float64) []float64 {
	if hi <= lo {
		d := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-d, hi+d
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for i := math.Floor(lo / step); ; i++ {
		v := i * step
		ticks = append(ticks, v)
		if v >= hi-step*1e-9 {
			break
		}
	}
	return ticks
}

// logTicks returns 1, 2 and 5 times the powers of ten spanning [lo, hi].
func logTicks(lo, hi float64) []float64 {
	var ticks []float64
	first := math.Pow(10, math.Floor(math.Log10(lo)))
	for d := first; d <= hi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := d * m
			if v >= lo/1.0001 && v <= hi*1.0001 {
				ticks = append(ticks, v)
			}
		}
	}
	if len(ticks) == 0 {
		ticks = []float64{lo, hi}
	}
	return ticks
}
