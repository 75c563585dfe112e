package users

import (
	"fmt"
	"math"

	"github.com/cctrack/cctrack/sim/geom"
)

// DefaultJunctionRun is the JunctionRun used when TrajectoryParams leaves it zero: longer than the
// width of ordinary streets (so that a walker does not turn towards the far kerb mid-block) and shorter
// than a city block (so that side streets count).
const DefaultJunctionRun = 30.0

// TrajectoryParams sets how a user moves: Steps positions, one per coherence interval, at constant
// speed along a path whose corners are circular arcs.
type TrajectoryParams struct {
	Speed    float64 // m/s
	Interval float64 // s per coherence interval
	Steps    int     // T, positions returned
	// TurnRadius is the radius of the arcs that round every corner, in metres, so the path's curvature
	// is at most 1/TurnRadius: its heading turns by at most 1/TurnRadius radians per metre. Zero keeps
	// sharp corners.
	TurnRadius float64
	// JunctionRun (m) is how far the way into a side opening must be clear for the random walk to treat
	// it as a junction where it may turn; 0 selects DefaultJunctionRun. FromWaypoints ignores it.
	JunctionRun float64
}

// Spacing is the arc length between consecutive samples, Speed·Interval.
func (p TrajectoryParams) Spacing() float64 { return p.Speed * p.Interval }

// Length is the arc length from the first sample to the last, (Steps-1)·Speed·Interval.
func (p TrajectoryParams) Length() float64 { return float64(p.Steps-1) * p.Spacing() }

// Validate reports the first invalid field by name.
func (p TrajectoryParams) Validate() error {
	switch {
	case !geom.Finite(p.Speed) || p.Speed <= 0:
		return fmt.Errorf("trajectory: Speed = %g m/s, want > 0", p.Speed)
	case !geom.Finite(p.Interval) || p.Interval <= 0:
		return fmt.Errorf("trajectory: Interval = %g s, want > 0", p.Interval)
	case p.Steps < 1:
		return fmt.Errorf("trajectory: Steps = %d, want >= 1", p.Steps)
	case !geom.Finite(p.TurnRadius) || p.TurnRadius < 0:
		return fmt.Errorf("trajectory: TurnRadius = %g m, want >= 0", p.TurnRadius)
	case !geom.Finite(p.JunctionRun) || p.JunctionRun < 0:
		return fmt.Errorf("trajectory: JunctionRun = %g m, want >= 0", p.JunctionRun)
	}
	return nil
}

// FromWaypoints returns the trajectory that starts at waypoints[0] and follows the polyline through
// the waypoints with every corner rounded by an arc of radius TurnRadius tangent to both legs (the
// path passes inside each interior waypoint rather than through it), sampled every Speed·Interval
// metres of arc length: Steps samples, the first at waypoints[0]. The path may be longer than needed;
// the samples stop after Steps. It is an error, rather than a silent clamp, when the smoothed path is
// shorter than (Steps-1)·Speed·Interval, when consecutive waypoints coincide, when the path reverses
// at a waypoint (no arc can round a U-turn) with TurnRadius > 0, or when a leg of length L between
// corners of turning angles a and b is too short for their arcs: L < TurnRadius·(tan(a/2) + tan(b/2)).
func FromWaypoints(waypoints []geom.Vec3, p TrajectoryParams) ([]geom.Vec3, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(waypoints) < 2 {
		return nil, fmt.Errorf("trajectory: %d waypoints, want >= 2", len(waypoints))
	}
	pieces, err := smooth(waypoints, p.TurnRadius)
	if err != nil {
		return nil, fmt.Errorf("trajectory: %w", err)
	}
	out, err := sample(nil, waypoints[0], pieces, p)
	if err != nil {
		return nil, fmt.Errorf("trajectory: %w", err)
	}
	return out, nil
}

// piece is a straight segment (r == 0) or a circular arc of a smooth path. At arc length s in
// [0, length] a segment is at start + s·u; an arc of radius r about centre is at
//
//	centre + r·(cos(s/r)·e1 + sin(s/r)·u)
//
// with e1 the unit vector from the centre to the arc's start and u the unit tangent there.
type piece struct {
	start, centre, u, e1 geom.Vec3
	r, length            float64
}

func (pc *piece) at(s float64) geom.Vec3 {
	if pc.r == 0 {
		return pc.start.AddScaled(s, pc.u)
	}
	sin, cos := math.Sincos(s / pc.r)
	return pc.centre.AddScaled(pc.r*cos, pc.e1).AddScaled(pc.r*sin, pc.u)
}

// fillet is the arc of radius r rounding the corner at p between the incoming unit direction u and
// the outgoing v, which turn by theta = acos(u·v): tangent to both legs at p - t·u and p + t·v with
//
//	t = r·tan(theta/2),
//
// its centre at p - t·u + r·n, n the unit component of v normal to u. It returns the arc and t.
func fillet(p, u, v geom.Vec3, r float64) (piece, float64) {
	theta := math.Acos(math.Max(-1, math.Min(1, u.Dot(v))))
	t := r * math.Tan(theta/2)
	n := v.AddScaled(-v.Dot(u), u).Unit()
	start := p.AddScaled(-t, u)
	return piece{start: start, centre: start.AddScaled(r, n), u: u, e1: n.Neg(), r: r, length: r * theta}, t
}

// turnEps is the turning angle (rad) below which a corner is treated as straight: a fillet there
// would be shorter than rounding error.
const turnEps = 1e-12

// smooth turns a polyline into segments and corner arcs of radius r (r == 0: segments only).
func smooth(verts []geom.Vec3, r float64) ([]piece, error) {
	n := len(verts)
	if n < 2 {
		return nil, nil // a path that stays at its start
	}
	dirs := make([]geom.Vec3, n-1)
	lens := make([]float64, n-1)
	for i := range n - 1 {
		d := verts[i+1].Sub(verts[i])
		lens[i] = d.Norm()
		if lens[i] == 0 {
			return nil, fmt.Errorf("waypoints %d and %d coincide at %v", i, i+1, verts[i])
		}
		dirs[i] = d.Scale(1 / lens[i])
	}
	// arcs[i] and tans[i] belong to corner i+1, between legs i and i+1.
	arcs := make([]piece, n-2)
	tans := make([]float64, n)
	for i := range n - 2 {
		u, v := dirs[i], dirs[i+1]
		if r == 0 || math.Acos(math.Max(-1, math.Min(1, u.Dot(v)))) < turnEps {
			continue
		}
		if u.Dot(v) <= -1+1e-12 {
			return nil, fmt.Errorf("the path reverses at waypoint %d (%v): no arc of radius %g m rounds a U-turn", i+1, verts[i+1], r)
		}
		arcs[i], tans[i+1] = fillet(verts[i+1], u, v, r)
	}
	pieces := make([]piece, 0, 2*n)
	for i := range n - 1 {
		// A leg exactly as long as its two tangents joins the arcs directly; allow rounding error,
		// at least the random walk's own tolerance so that every corner it takes is accepted here.
		straight := lens[i] - tans[i] - tans[i+1]
		if straight < -(tol + 1e-9*lens[i]) {
			return nil, fmt.Errorf("leg %d–%d is %.6g m long but its corners' arcs of radius %g m need %.6g m",
				i, i+1, lens[i], r, tans[i]+tans[i+1])
		}
		if straight > 0 {
			pieces = append(pieces, piece{start: verts[i].AddScaled(tans[i], dirs[i]), u: dirs[i], length: straight})
		}
		if i < n-2 && arcs[i].r > 0 {
			pieces = append(pieces, arcs[i])
		}
	}
	return pieces, nil
}

// sample appends to dst the positions at arc lengths s_i = i·Spacing, i = 0…Steps-1, along the path
// that starts at start and runs through pieces. It fails when the path is shorter than Length.
func sample(dst []geom.Vec3, start geom.Vec3, pieces []piece, p TrajectoryParams) ([]geom.Vec3, error) {
	total := 0.0
	for i := range pieces {
		total += pieces[i].length
	}
	need, ds := p.Length(), p.Spacing()
	// Relative 1e-9 forgives the rounding of summed piece lengths against a product of parameters.
	if total < need*(1-1e-9) {
		return nil, fmt.Errorf("path is %.6g m long, %d steps of %.6g m need %.6g m", total, p.Steps, ds, need)
	}
	dst = append(dst, start)
	k, s0 := 0, 0.0 // current piece and the arc length where it starts
	for i := 1; i < p.Steps; i++ {
		// Multiplying rather than accumulating keeps s_i exact to rounding of one product.
		s := float64(i) * ds
		for k < len(pieces)-1 && s > s0+pieces[k].length {
			s0 += pieces[k].length
			k++
		}
		dst = append(dst, pieces[k].at(math.Min(s-s0, pieces[k].length)))
	}
	return dst, nil
}
