package main

import (
	"fmt"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/cctrack/cctrack/internal/atomicfile"
)

// series is one curve of a figure; NaN values (intervals without a value) leave gaps.
type series struct {
	name string
	x, y []float64
}

// lineFigure writes the curves as a PNG line plot to path.
func lineFigure(path, title, xLabel, yLabel string, curves []series) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, c := range curves {
		style := draw.LineStyle{Color: plotutil.Color(i), Width: vg.Points(1.2), Dashes: plotutil.Dashes(i / 7)}
		var legend *plotter.Line
		for _, seg := range segments(c.x, c.y) {
			l, err := plotter.NewLine(seg)
			if err != nil {
				return fmt.Errorf("figure %s: %s: %w", path, c.name, err)
			}
			l.LineStyle = style
			p.Add(l)
			legend = l
			for _, xy := range seg {
				lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
			}
		}
		if legend != nil {
			p.Legend.Add(c.name, legend)
		}
	}
	if lo < hi {
		// Headroom above the data for the legend (about 6 % of the height per entry), so that it
		// covers no curve.
		p.Y.Min, p.Y.Max = lo, hi+(hi-lo)*0.07*float64(len(curves))
	}
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("figure %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error { _, err := wt.WriteTo(w); return err })
}

// segments splits a curve at its NaN values into runs of finite points.
func segments(x, y []float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i := range x {
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, plotter.XY{X: x[i], Y: y[i]})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
