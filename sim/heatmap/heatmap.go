// Package heatmap draws the path-gain map of a user grid (the paper's Fig. 3b): the gain of every
// grid point in dB on a perceptual colour scale, building footprints on top, a user trajectory and
// the base station, with equal scales on both axes in metres.
package heatmap

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/cctrack/cctrack/internal/atomicfile"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/scene"
)

// Map is one path-gain figure.
//
// The grid has the layout of users.Grid: the point of row r and column c is at
// Origin + (c·Spacing, r·Spacing), and GainDB[r*Cols+c] is its path gain in dB (NaN where no path
// reaches it). Each grid point is drawn as a Spacing x Spacing cell centred on it.
type Map struct {
	Title      string
	Origin     geom.Vec3
	Rows, Cols int
	Spacing    float64 // metres
	GainDB     []float64
	// Footprints are building outlines in the xy plane (z ignored), drawn filled grey. Edges shared
	// by two footprints are not outlined, so roofs given as triangles show only their outer boundary.
	Footprints [][]geom.Vec3
	Trajectory []geom.Vec3 // drawn as a line with start and end markers (xy)
	BS         geom.Vec3   // marked (xy)
}

var (
	noPathColor    = color.RGBA{R: 235, G: 235, B: 235, A: 255}
	buildingFill   = color.RGBA{R: 150, G: 150, B: 150, A: 255}
	buildingEdge   = color.RGBA{R: 60, G: 60, B: 60, A: 255}
	trajectoryLine = color.RGBA{R: 230, G: 40, B: 40, A: 255}
	bsColor        = color.RGBA{R: 0, G: 0, B: 0, A: 255}
)

// viridisStops are matplotlib's viridis sampled at 11 equally spaced points (as in viridisLite's
// viridis(11)). Their CIELAB lightness increases monotonically, so moreland.NewLuminance can
// interpolate between them with lightness linear in the value, which is what keeps the scale
// perceptually ordered.
var viridisStops = []color.Color{
	color.RGBA{0x44, 0x01, 0x54, 0xff}, color.RGBA{0x48, 0x24, 0x75, 0xff}, color.RGBA{0x41, 0x44, 0x87, 0xff},
	color.RGBA{0x35, 0x5f, 0x8d, 0xff}, color.RGBA{0x2a, 0x78, 0x8e, 0xff}, color.RGBA{0x21, 0x91, 0x8c, 0xff},
	color.RGBA{0x22, 0xa8, 0x84, 0xff}, color.RGBA{0x44, 0xbf, 0x70, 0xff}, color.RGBA{0x7a, 0xd1, 0x51, 0xff},
	color.RGBA{0xbd, 0xdf, 0x26, 0xff}, color.RGBA{0xfd, 0xe7, 0x25, 0xff},
}

// viridis returns a viridis-like colour map over [min, max].
func viridis(min, max float64) (palette.ColorMap, error) {
	cm, err := moreland.NewLuminance(viridisStops)
	if err != nil {
		return nil, fmt.Errorf("heatmap: viridis colour map: %w", err)
	}
	cm.SetMin(min)
	cm.SetMax(max)
	return cm, nil
}

// Validate checks the grid against GainDB.
func (m Map) Validate() error {
	switch {
	case m.Rows < 1 || m.Cols < 1:
		return fmt.Errorf("heatmap: grid %dx%d: need at least one row and column", m.Rows, m.Cols)
	case !(m.Spacing > 0) || math.IsInf(m.Spacing, 0):
		return fmt.Errorf("heatmap: grid spacing %g m: must be positive and finite", m.Spacing)
	case len(m.GainDB) != m.Rows*m.Cols:
		return fmt.Errorf("heatmap: %d gains for a %dx%d grid", len(m.GainDB), m.Rows, m.Cols)
	}
	return nil
}

// Render draws the map to path, PNG or SVG by its extension (.png, .svg). The colour scale spans
// the smallest to the largest finite gain; NaN cells are light grey. Both axes have the same
// metres-per-point scale.
func (m Map) Render(path string) error {
	ext, err := Format(path)
	if err != nil {
		return err
	}
	fig, err := m.layout()
	if err != nil {
		return err
	}
	var out io.WriterTo
	if ext == ".png" {
		c := vgimg.New(fig.width, fig.height)
		fig.draw(draw.New(c))
		out = vgimg.PngCanvas{Canvas: c}
	} else {
		c := vgsvg.New(fig.width, fig.height)
		fig.draw(draw.New(c))
		out = c
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { _, err := out.WriteTo(w); return err }); err != nil {
		return fmt.Errorf("heatmap: %w", err)
	}
	return nil
}

// Format returns the image format of an output path, ".png" or ".svg", or an error for others.
func Format(path string) (string, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".png" && ext != ".svg" {
		return "", fmt.Errorf("heatmap: %s: unsupported extension %q (want .png or .svg)", path, ext)
	}
	return ext, nil
}

// figure is a laid-out map: the main plot, the colour bar plot and the legend, and the page size.
type figure struct {
	main, bar     *plot.Plot
	legend        plot.Legend
	width, height vg.Length
	barWidth      vg.Length
}

const (
	dataWidth   = 5.5 * vg.Inch // width of the map's data area before the aspect fit
	sideColumn  = 1.9 * vg.Inch // colour bar and legend
	axisMargins = 0.9 * vg.Inch // room for the title, tick labels and axis labels around the data
	margin      = 0.08 * vg.Inch
)

// split divides the page, less a small margin, into the map and the side column.
func (fig *figure) split(c draw.Canvas) (main, side draw.Canvas) {
	c = draw.Crop(c, margin, -margin, margin, -margin)
	return draw.Crop(c, 0, -fig.barWidth, 0, 0), draw.Crop(c, c.Size().X-fig.barWidth, 0, 0, 0)
}

func (fig *figure) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	main, side := fig.split(c)
	fig.main.Draw(main)
	// Colour bar in the upper part of the side column, level with the map (below the title), and
	// the legend below it.
	h := side.Size().Y
	fig.bar.Draw(draw.Crop(side, 0.1*vg.Inch, -0.9*vg.Inch, 0.45*h, -0.3*vg.Inch))
	fig.legend.Draw(draw.Crop(side, 0.15*vg.Inch, -0.1*vg.Inch, 0, -0.6*h))
}

// layout builds the plots and fits the axis ranges so that both axes have the same scale.
func (m Map) layout() (*figure, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, g := range m.GainDB {
		if !math.IsNaN(g) && !math.IsInf(g, 0) {
			lo, hi = math.Min(lo, g), math.Max(hi, g)
		}
	}
	if lo > hi {
		return nil, errors.New("heatmap: no finite path gain to colour")
	}
	if lo == hi { // a flat map still needs a colour bar with a range
		lo, hi = lo-1, hi+1
	}
	cm, err := viridis(lo, hi)
	if err != nil {
		return nil, err
	}

	p := plot.New()
	p.Title.Text = m.Title
	p.X.Label.Text = "x (m)"
	p.Y.Label.Text = "y (m)"
	p.X.Tick.Marker = plot.TickerFunc(ticks)
	p.Y.Tick.Marker = plot.TickerFunc(ticks)

	cells, err := m.cells(cm)
	if err != nil {
		return nil, err
	}
	half := m.Spacing / 2
	x0, y0 := m.Origin.X-half, m.Origin.Y-half
	x1, y1 := m.Origin.X+float64(m.Cols-1)*m.Spacing+half, m.Origin.Y+float64(m.Rows-1)*m.Spacing+half
	p.Add(plotter.NewImage(cells, x0, y0, x1, y1))

	fp := footprints{polys: m.Footprints}
	p.Add(fp)

	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.Add("base station", markers(nil, draw.PyramidGlyph{}, 6, bsColor))
	if len(m.Trajectory) > 0 {
		xys := make(plotter.XYs, len(m.Trajectory))
		for i, v := range m.Trajectory {
			xys[i] = plotter.XY{X: v.X, Y: v.Y}
			x0, x1 = math.Min(x0, v.X), math.Max(x1, v.X)
			y0, y1 = math.Min(y0, v.Y), math.Max(y1, v.Y)
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("heatmap: trajectory: %w", err)
		}
		line.Color, line.Width = trajectoryLine, 1.5
		start := markers(xys[:1], draw.CircleGlyph{}, 4, trajectoryLine)
		end := markers(xys[len(xys)-1:], draw.BoxGlyph{}, 4, trajectoryLine)
		p.Add(line, start, end)
		legend.Add("trajectory", line)
		legend.Add("start", start)
		legend.Add("end", end)
	}
	p.Add(markers(plotter.XYs{{X: m.BS.X, Y: m.BS.Y}}, draw.PyramidGlyph{}, 6, bsColor))
	x0, x1 = math.Min(x0, m.BS.X), math.Max(x1, m.BS.X)
	y0, y1 = math.Min(y0, m.BS.Y), math.Max(y1, m.BS.Y)
	if len(m.Footprints) > 0 {
		legend.Add("building", fp)
	}
	legend.Add("no path", swatch(noPathColor))

	// Page: data area about dataWidth wide, as tall as the data's aspect asks within limits.
	aspect := math.Min(math.Max((y1-y0)/(x1-x0), 0.45), 1.6)
	fig := &figure{
		main: p, legend: legend, barWidth: sideColumn,
		width:  dataWidth + axisMargins + sideColumn,
		height: vg.Length(aspect)*dataWidth + axisMargins,
	}

	bar := plot.New()
	bar.HideX()
	bar.Y.Label.Text = "path gain (dB)"
	bar.Y.Tick.Marker = plot.TickerFunc(ticks)
	bar.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
	fig.bar = bar

	fig.fitAspect(x0, x1, y0, y1)
	return fig, nil
}

// fitAspect sets the main plot's ranges to cover [x0,x1]x[y0,y1] with 5% margins, widening the
// range of one axis so that a metre spans the same length on both. The data area depends on the
// width of the y tick labels, which depends on the ranges, so the fit is repeated until it settles.
// The margins keep markers at the bounds (6 pt glyphs) and ticks (see ticks) from sticking out of
// the data area, which would make gonum/plot shrink the area again after the fit.
func (fig *figure) fitAspect(x0, x1, y0, y1 float64) {
	mx, my := 0.05*(x1-x0), 0.05*(y1-y0)
	x0, x1, y0, y1 = x0-mx, x1+mx, y0-my, y1+my
	page := draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: fig.width, Y: fig.height}}}
	main, _ := fig.split(page)
	p := fig.main
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = x0, x1, y0, y1
	for range 5 {
		dc := p.DataCanvas(main)
		w, h := float64(dc.Size().X), float64(dc.Size().Y)
		xr, yr := x1-x0, y1-y0
		if w/xr > h/yr { // x has room to spare: show more x
			cx, nx := (x0+x1)/2, yr*w/h
			p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = cx-nx/2, cx+nx/2, y0, y1
		} else {
			cy, ny := (y0+y1)/2, xr*h/w
			p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = x0, x1, cy-ny/2, cy+ny/2
		}
	}
}

// ticks puts labelled ticks at multiples of the smallest 1-2-5 step of at least a twelfth of the
// range (so five to twelve of them), with unlabelled ticks halfway between. A tick within 5% of either end
// loses its label: a label there would reach past the data area and make gonum/plot pad the area,
// which would undo the equal-aspect fit.
func ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return nil
	}
	raw := (hi - lo) / 12
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	var step float64
	for _, f := range []float64{1, 2, 5, 10} {
		if step = f * mag; step >= raw {
			break
		}
	}
	decimals := max(0, int(-math.Floor(math.Log10(step))))
	var out []plot.Tick
	edge := 0.05 * (hi - lo)
	for i := math.Ceil(lo / step * 2); i <= math.Floor(hi/step*2); i++ {
		v := i * step / 2
		if v == 0 {
			v = 0 // not -0, which would print as "-0"
		}
		t := plot.Tick{Value: v}
		if math.Mod(i, 2) == 0 && v >= lo+edge && v <= hi-edge {
			t.Label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
		out = append(out, t)
	}
	return out
}

// scales returns the data area's points per metre along x and along y, for checking the aspect.
func (fig *figure) scales() (sx, sy float64) {
	page := draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: fig.width, Y: fig.height}}}
	main, _ := fig.split(page)
	dc := fig.main.DataCanvas(main)
	p := fig.main
	return float64(dc.Size().X) / (p.X.Max - p.X.Min), float64(dc.Size().Y) / (p.Y.Max - p.Y.Min)
}

// cells renders the grid as an image, one block of k x k pixels per cell, with k chosen so the
// image is at least about 1200 pixels across: the renderer interpolates when it scales an image,
// and enough pixels per cell keep the cell edges sharp.
func (m Map) cells(cm palette.ColorMap) (image.Image, error) {
	k := max(1, int(math.Ceil(1200/float64(max(m.Rows, m.Cols)))))
	img := image.NewRGBA(image.Rect(0, 0, m.Cols*k, m.Rows*k))
	for r := 0; r < m.Rows; r++ {
		for c := 0; c < m.Cols; c++ {
			col := noPathColor
			if g := m.GainDB[r*m.Cols+c]; !math.IsNaN(g) && !math.IsInf(g, 0) {
				at, err := cm.At(g)
				if err != nil {
					return nil, fmt.Errorf("heatmap: colour of cell (%d, %d) = %g dB: %w", r, c, g, err)
				}
				col = color.RGBAModel.Convert(at).(color.RGBA)
			}
			// Image rows run top-down; grid rows bottom-up (y grows with r).
			for dy := 0; dy < k; dy++ {
				for dx := 0; dx < k; dx++ {
					img.SetRGBA(c*k+dx, (m.Rows-1-r)*k+dy, col)
				}
			}
		}
	}
	return img, nil
}

// markers is a scatter of one glyph shape.
func markers(xys plotter.XYs, shape draw.GlyphDrawer, radius vg.Length, c color.Color) *plotter.Scatter {
	s := &plotter.Scatter{XYs: xys}
	s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: radius, Shape: shape}
	return s
}

// swatch is a legend thumbnail filled with one colour.
type swatch color.RGBA

func (s swatch) Thumbnail(c *draw.Canvas) {
	r := rect(c)
	c.FillPolygon(color.RGBA(s), r)
	c.StrokeLines(draw.LineStyle{Color: buildingFill, Width: 0.5}, append(r, r[0]))
}

func rect(c *draw.Canvas) []vg.Point {
	return []vg.Point{c.Min, {X: c.Max.X, Y: c.Min.Y}, c.Max, {X: c.Min.X, Y: c.Max.Y}}
}

// footprints fills polygons grey and outlines the edges that only one polygon has.
type footprints struct{ polys [][]geom.Vec3 }

func (f footprints) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	// Antialiased fills of triangles sharing an edge leave a faint seam; stroking each polygon in
	// its own fill colour covers it.
	seam := draw.LineStyle{Color: buildingFill, Width: 0.6}
	pts := make([]vg.Point, 0, 8)
	for _, poly := range f.polys {
		pts = pts[:0]
		for _, v := range poly {
			pts = append(pts, vg.Point{X: trX(v.X), Y: trY(v.Y)})
		}
		if len(pts) < 3 {
			continue
		}
		clipped := c.ClipPolygonXY(pts)
		if len(clipped) < 3 {
			continue
		}
		c.FillPolygon(buildingFill, clipped)
		c.StrokeLines(seam, c.ClipLinesXY(append(clipped, clipped[0]))...)
	}
	edge := draw.LineStyle{Color: buildingEdge, Width: 0.7}
	for _, e := range outerEdges(f.polys) {
		seg := []vg.Point{{X: trX(e[0].X), Y: trY(e[0].Y)}, {X: trX(e[1].X), Y: trY(e[1].Y)}}
		c.StrokeLines(edge, c.ClipLinesXY(seg)...)
	}
}

func (f footprints) Thumbnail(c *draw.Canvas) {
	r := rect(c)
	c.FillPolygon(buildingFill, r)
	c.StrokeLines(draw.LineStyle{Color: buildingEdge, Width: 0.7}, append(r, r[0]))
}

// outerEdges returns the polygon edges (in xy) that no other polygon edge duplicates, with the
// endpoints compared after rounding to a millimetre so that meshes with duplicated vertices still
// match.
func outerEdges(polys [][]geom.Vec3) [][2]geom.Vec3 {
	type key [4]int64
	q := func(x float64) int64 { return int64(math.Round(x * 1000)) }
	mk := func(a, b geom.Vec3) key {
		ka, kb := [2]int64{q(a.X), q(a.Y)}, [2]int64{q(b.X), q(b.Y)}
		if kb[0] < ka[0] || (kb[0] == ka[0] && kb[1] < ka[1]) {
			ka, kb = kb, ka
		}
		return key{ka[0], ka[1], kb[0], kb[1]}
	}
	count := map[key]int{}
	for _, poly := range polys {
		for i := range poly {
			count[mk(poly[i], poly[(i+1)%len(poly)])]++
		}
	}
	var out [][2]geom.Vec3
	for _, poly := range polys {
		for i := range poly {
			a, b := poly[i], poly[(i+1)%len(poly)]
			if count[mk(a, b)] == 1 {
				out = append(out, [2]geom.Vec3{a, b})
			}
		}
	}
	return out
}

// Footprints returns the top view of a scene's buildings: one triangle (as a polygon) per roughly
// horizontal face whose centroid is above minHeight. A face counts as horizontal when its unit normal
// has |n_z| >= 0.5 (within 60° of vertical, so pitched roofs count and walls do not); either winding
// is accepted because loaded meshes do not all wind consistently, and a downward face above
// minHeight is the underside of something that belongs in a top view anyway. minHeight keeps out
// the ground and anything else near it (e.g. 1 m). Degenerate faces are skipped.
func Footprints(sc *scene.Scene, minHeight float64) [][]geom.Vec3 {
	var out [][]geom.Vec3
	for _, t := range sc.Triangles {
		a, b, c := sc.Vertices[t[0]], sc.Vertices[t[1]], sc.Vertices[t[2]]
		n := b.Sub(a).Cross(c.Sub(a))
		nn := n.Norm()
		if nn == 0 || math.Abs(n.Z) < 0.5*nn {
			continue
		}
		if (a.Z+b.Z+c.Z)/3 <= minHeight {
			continue
		}
		out = append(out, []geom.Vec3{a, b, c})
	}
	return out
}
