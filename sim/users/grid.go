// Package users places receivers and moves them: fixed grids of user positions, and smooth
// constant-speed trajectories through the walkable (street) space of a scene, sampled once per
// coherence interval.
//
// Trajectories are built in two stages so that centimetre sample spacings cost no more than metre ones:
// a random walk (or the caller's waypoints) gives a polyline on a coarse lattice, whose corners are
// rounded with circular arcs of radius TurnRadius; the smooth path is then sampled at equal arc-length
// spacing Speed·Interval.
package users

import "github.com/cctrack/cctrack/sim/geom"

// Grid is a rectangular grid of receivers: Rows x Cols points, row r and column c at
//
//	Origin + (c·Spacing, r·Spacing, 0),
//
// so Origin.Z is the receivers' height (rows advance along +y, columns along +x).
type Grid struct {
	Origin     geom.Vec3
	Rows, Cols int
	Spacing    float64 // m
}

// Points returns the grid's points row-major: point r·Cols + c is row r, column c. A grid with no
// rows or no columns has no points.
func (g Grid) Points() []geom.Vec3 {
	if g.Rows <= 0 || g.Cols <= 0 {
		return nil
	}
	out := make([]geom.Vec3, 0, g.Rows*g.Cols)
	for r := range g.Rows {
		for c := range g.Cols {
			out = append(out, g.Origin.Add(geom.V(float64(c)*g.Spacing, float64(r)*g.Spacing, 0)))
		}
	}
	return out
}
