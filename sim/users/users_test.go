package users

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/scene"
)

// rect is an obstacle occupying [x0, x1] x [y0, y1] at every height.
type rect struct{ x0, y0, x1, y1 float64 }

// obstacles gives analytic outdoor and segmentClear predicates, standing in for the ray tracer.
type obstacles []rect

func (o obstacles) outdoor(p geom.Vec3) bool {
	for _, r := range o {
		if p.X >= r.x0 && p.X <= r.x1 && p.Y >= r.y0 && p.Y <= r.y1 {
			return false
		}
	}
	return true
}

// segmentClear is the slab test: the segment a + s(b-a), s in [0, 1], misses every rectangle.
func (o obstacles) segmentClear(a, b geom.Vec3) bool {
	for _, r := range o {
		lo, hi := 0.0, 1.0
		hit := true
		for _, ax := range [2][4]float64{{a.X, b.X - a.X, r.x0, r.x1}, {a.Y, b.Y - a.Y, r.y0, r.y1}} {
			p, d, s0, s1 := ax[0], ax[1], ax[2], ax[3]
			if d == 0 {
				if p < s0 || p > s1 {
					hit = false
				}
				continue
			}
			t0, t1 := (s0-p)/d, (s1-p)/d
			lo, hi = math.Max(lo, math.Min(t0, t1)), math.Min(hi, math.Max(t0, t1))
		}
		if hit && lo <= hi {
			return false
		}
	}
	return true
}

// testCity is a procedural city with one building per block (so that the only side openings are
// street crossings) and its walkable lattice at 1.5 m with a 1 m step. Its building edges fall on
// half metres, between lattice points.
func testCity(t testing.TB, k int) (scene.CityParams, *Walkable) {
	t.Helper()
	p := scene.DefaultCityParams()
	p.BlocksX, p.BlocksY, p.BlockSize, p.StreetWidth, p.BuildingsPerBlock = 3, 3, 30, 12, k
	bs, err := p.Buildings(1)
	if err != nil {
		t.Fatal(err)
	}
	var o obstacles
	for _, b := range bs {
		o = append(o, rect{b.Min.X, b.Min.Y, b.Max.X, b.Max.Y})
	}
	wx, wy := p.Size()
	w, err := NewWalkable(context.Background(), geom.V(-wx/2, -wy/2, 0), geom.V(wx/2, wy/2, 0), 1, 1.5, o.outdoor, o.segmentClear)
	if err != nil {
		t.Fatal(err)
	}
	return p, w
}

func TestGridPoints(t *testing.T) {
	g := Grid{Origin: geom.V(1, 2, 1.5), Rows: 2, Cols: 3, Spacing: 2.5}
	want := []geom.Vec3{{X: 1, Y: 2, Z: 1.5}, {X: 3.5, Y: 2, Z: 1.5}, {X: 6, Y: 2, Z: 1.5},
		{X: 1, Y: 4.5, Z: 1.5}, {X: 3.5, Y: 4.5, Z: 1.5}, {X: 6, Y: 4.5, Z: 1.5}}
	if got := g.Points(); !reflect.DeepEqual(got, want) {
		t.Errorf("Points() = %v, want %v", got, want)
	}
	if got := (Grid{Rows: 0, Cols: 3}).Points(); len(got) != 0 {
		t.Errorf("empty grid gave %d points", len(got))
	}
}

func TestNewWalkableErrors(t *testing.T) {
	var none obstacles
	wall := obstacles{{-1, -1, 11, 11}}
	for _, tc := range []struct {
		name, want string
		lo, hi     geom.Vec3
		step       float64
		o          obstacles
	}{
		{"zero step", "step", geom.V(0, 0, 0), geom.V(10, 10, 0), 0, none},
		{"inverted bounds", "bounds", geom.V(0, 0, 0), geom.V(-10, 10, 0), 1, none},
		{"too fine", "larger step", geom.V(0, 0, 0), geom.V(1e4, 1e4, 0), 0.1, none},
		{"all indoor", "no two neighbouring", geom.V(0, 0, 0), geom.V(10, 10, 0), 1, wall},
	} {
		_, err := NewWalkable(context.Background(), tc.lo, tc.hi, tc.step, 1.5, tc.o.outdoor, tc.o.segmentClear)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestWalkableLattice checks the lattice against brute force around one obstacle: edges are
// symmetric and exactly the clear ones, runs count clear moves, Contains follows the cells.
func TestWalkableLattice(t *testing.T) {
	o := obstacles{{3.5, 2.5, 6.5, 4.5}}
	w, err := NewWalkable(context.Background(), geom.V(0, 0, 0), geom.V(10, 8, 0), 1, 2, o.outdoor, o.segmentClear)
	if err != nil {
		t.Fatal(err)
	}
	if w.nx != 11 || w.ny != 9 {
		t.Fatalf("lattice %dx%d, want 11x9", w.nx, w.ny)
	}
	for i := range int32(w.nx * w.ny) {
		for k := range 8 {
			dx, dy := offset(k)
			ix, iy := int(i)%w.nx+dx, int(i)/w.nx+dy
			inside := ix >= 0 && ix < w.nx && iy >= 0 && iy < w.ny
			want := inside && w.walk[i] && w.walk[iy*w.nx+ix] && o.segmentClear(w.pos(i), w.pos(int32(iy*w.nx+ix)))
			if got := w.conn[i]&(1<<k) != 0; got != want {
				t.Fatalf("point %v direction %d: edge %v, want %v", w.pos(i), k, got, want)
			}
			n, j := 0, i
			for w.conn[j]&(1<<k) != 0 {
				j, n = w.next(j, k), n+1
			}
			if int(w.run[k][i]) != n {
				t.Fatalf("point %v direction %d: run %d, want %d", w.pos(i), k, w.run[k][i], n)
			}
		}
	}
	for _, tc := range []struct {
		p    geom.Vec3
		want bool
	}{
		{geom.V(1, 1, 0), true},
		{geom.V(5, 3.5, 2), false},    // inside the obstacle
		{geom.V(3.5, 3.5, 2), true},   // on the border of the cell of (3, 3), outdoor
		{geom.V(3.51, 3.5, 2), false}, // in the cell of (4, 3), indoor
		{geom.V(-0.5, 0, 2), true},    // the lattice's own cells reach half a step outside it
		{geom.V(-0.6, 0, 2), false},
	} {
		if got := w.Contains(tc.p); got != tc.want {
			t.Errorf("Contains(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

// checkTrajectory checks the properties Random and FromWaypoints promise:
//   - Steps samples at one height;
//   - the chord between consecutive samples is at most ds = Speed·Interval (the arc length between
//     them) and, when R > 0, at least the chord of a circular arc of length ds, 2R·sin(ds/2R): by
//     Schur's comparison theorem no curve of curvature <= 1/R has a shorter one. That allows a relative
//     shortfall of ds²/(24R²) on curves; 1e-9 m absorbs rounding of coordinates of hundreds of metres;
//   - on straight parts (chords whose neighbours have the same heading within 1e-9 rad) the chord is
//     ds within 1e-6 relative, and at least half the chords are straight, so this is no empty check;
//   - the heading turns between consecutive chords by at most ds/R (exactly ds/R on an arc, where a
//     chord's heading is that of the tangent at its middle), within 1e-6 relative: rounding of
//     coordinates makes headings of millimetre chords 100 m from the origin uncertain by about 1e-11 rad;
//   - every sample is in walkable space (w may be nil).
func checkTrajectory(t *testing.T, traj []geom.Vec3, p TrajectoryParams, w *Walkable) {
	t.Helper()
	if len(traj) != p.Steps {
		t.Fatalf("%d samples, want %d", len(traj), p.Steps)
	}
	ds, r := p.Spacing(), p.TurnRadius
	heading := make([]float64, len(traj)-1)
	for i := range heading {
		heading[i] = math.Atan2(traj[i+1].Y-traj[i].Y, traj[i+1].X-traj[i].X)
	}
	turn := func(i int) float64 { // between chords i-1 and i
		if i <= 0 || i >= len(heading) {
			return 0
		}
		return math.Abs(math.Remainder(heading[i]-heading[i-1], 2*math.Pi))
	}
	straight := 0
	for i := 1; i < len(traj); i++ {
		if traj[i].Z != traj[0].Z {
			t.Fatalf("sample %d at height %g, the first at %g", i, traj[i].Z, traj[0].Z)
		}
		c := traj[i].Dist(traj[i-1])
		lower := 0.0
		if r > 0 {
			lower = 2 * r * math.Sin(ds/(2*r))
		}
		if c > ds*(1+1e-9)+1e-9 || c < lower-1e-9 {
			t.Fatalf("samples %d–%d are %.12g m apart, want within [%.12g, %.12g]", i-1, i, c, lower, ds)
		}
		if turn(i-1) <= 1e-9 && turn(i) <= 1e-9 {
			straight++
			if math.Abs(c-ds) > 1e-6*ds {
				t.Fatalf("samples %d–%d on a straight part are %.12g m apart, want %.12g", i-1, i, c, ds)
			}
		}
		if r > 0 && turn(i-1) > ds/r*(1+1e-6) {
			t.Fatalf("heading turns by %.6g rad between chords %d and %d of %.6g m, more than %.6g (radius %g m)",
				turn(i-1), i-2, i-1, ds, ds/r, r)
		}
	}
	if len(traj) > 10 && straight < len(traj)/2 {
		t.Errorf("only %d of %d chords are straight", straight, len(traj)-1)
	}
	if w != nil {
		for i, q := range traj {
			if !w.Contains(q) {
				t.Fatalf("sample %d %v is outside walkable space", i, q)
			}
		}
	}
}

func TestRandomCity(t *testing.T) {
	_, w1 := testCity(t, 1)
	_, w2 := testCity(t, 2) // 3 m alleys between the buildings of a block
	for _, tc := range []struct {
		name string
		w    *Walkable
		p    TrajectoryParams
	}{
		{"100 ms steps", w1, TrajectoryParams{Speed: 1.2, Interval: 0.1, Steps: 3000, TurnRadius: 3}},
		{"5 ms steps", w1, TrajectoryParams{Speed: 1, Interval: 0.005, Steps: 40000, TurnRadius: 2}},
		{"tight corners", w1, TrajectoryParams{Speed: 1.5, Interval: 0.02, Steps: 5000, TurnRadius: 0.5}},
		{"sharp corners", w1, TrajectoryParams{Speed: 1.5, Interval: 0.1, Steps: 2000}},
		{"alleys", w2, TrajectoryParams{Speed: 1.2, Interval: 0.05, Steps: 6000, TurnRadius: 1, JunctionRun: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(8) {
				traj, err := tc.w.Random(rand.New(rand.NewPCG(seed, 1)), tc.p)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				checkTrajectory(t, traj, tc.p, tc.w)
				again, err := tc.w.Random(rand.New(rand.NewPCG(seed, 1)), tc.p)
				if err != nil || !reflect.DeepEqual(traj, again) {
					t.Fatalf("seed %d: a second run differs (err %v)", seed, err)
				}
				other, err := tc.w.Random(rand.New(rand.NewPCG(seed+100, 1)), tc.p)
				if err != nil || reflect.DeepEqual(traj, other) {
					t.Fatalf("seeds %d and %d gave the same walk (err %v)", seed, seed+100, err)
				}
			}
		})
	}
}

// TestRandomTurnsAtJunctions follows the lattice walks behind Random in a city with one building a
// block: every corner is in a street crossing (a square of side StreetWidth + 2·Setback about
// crossing street centres), turns are 90° (no side opening elsewhere is JunctionRun long, and the
// perimeter street leaves no dead end), and walks both turn and go straight through crossings.
func TestRandomTurnsAtJunctions(t *testing.T) {
	p, w := testCity(t, 1)
	xs, ys := p.StreetCentres()
	half := p.StreetWidth/2 + p.Setback
	near := func(v float64, cs []float64) bool {
		for _, c := range cs {
			if math.Abs(v-c) <= half {
				return true
			}
		}
		return false
	}
	turns, through := 0, 0
	for seed := range uint64(20) {
		wk := walker{w: w, r: 3, junction: DefaultJunctionRun, arcs: map[uint32]bool{}}
		verts, ok := wk.walk(rand.New(rand.NewPCG(seed, 2)), 400)
		if !ok {
			t.Fatalf("seed %d: walk stuck", seed)
		}
		for i := 1; i+1 < len(verts); i++ {
			v := verts[i]
			if !near(v.X, xs) || !near(v.Y, ys) {
				t.Errorf("seed %d: corner %d at %v is not in a crossing", seed, i, v)
			}
			a, b := verts[i].Sub(verts[i-1]).Unit(), verts[i+1].Sub(verts[i]).Unit()
			if math.Abs(a.Dot(b)) > 1e-12 {
				t.Errorf("seed %d: corner %d turns from %v to %v, want 90°", seed, i, a, b)
			}
			turns++
		}
		for i := 1; i < len(verts); i++ {
			// A leg longer than a block plus two crossings went straight through one.
			if verts[i].Dist(verts[i-1]) > p.BlockSize+2*(p.StreetWidth+p.Setback) {
				through++
			}
		}
	}
	if turns == 0 || through == 0 {
		t.Errorf("%d corners and %d straight crossings in 20 walks, want some of each", turns, through)
	}
}

// TestRandomDeadEnd walks far in a closed 12 m wide street: the walker must turn round at the ends
// across the street, smoothly and inside it.
func TestRandomDeadEnd(t *testing.T) {
	var none obstacles
	w, err := NewWalkable(context.Background(), geom.V(0, 0, 0), geom.V(80, 12, 0), 1, 1.5, none.outdoor, none.segmentClear)
	if err != nil {
		t.Fatal(err)
	}
	p := TrajectoryParams{Speed: 1.2, Interval: 0.1, Steps: 2500, TurnRadius: 2}
	for seed := range uint64(8) {
		traj, err := w.Random(rand.New(rand.NewPCG(seed, 3)), p)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		checkTrajectory(t, traj, p, w)
		// Count sign changes of the x velocity, skipping moves across the street.
		reversals, last := 0, 0.0
		for i := 1; i < len(traj); i++ {
			if dx := traj[i].X - traj[i-1].X; math.Abs(dx) > 1e-9 {
				if dx*last < 0 {
					reversals++
				}
				last = dx
			}
		}
		if reversals == 0 {
			t.Errorf("seed %d: a 300 m walk in an 80 m street never turned round", seed)
		}
	}
	// A 2 m wide dead-end street has no room for arcs of radius 5 m: Random says so.
	narrow, err := NewWalkable(context.Background(), geom.V(0, 0, 0), geom.V(80, 2, 0), 1, 1.5, none.outdoor, none.segmentClear)
	if err != nil {
		t.Fatal(err)
	}
	p.TurnRadius = 5
	if _, err := narrow.Random(rand.New(rand.NewPCG(1, 3)), p); err == nil || !strings.Contains(err.Error(), "stuck") {
		t.Errorf("narrow street: error %v, want a stuck walk", err)
	}
}

// TestFromWaypoints compares an L-shaped path with its closed form: along +x to (8, 0), a quarter
// circle of radius 2 about (8, 2), then along +y. Coordinates are computed from a few products, so
// they agree to 1e-12 m.
func TestFromWaypoints(t *testing.T) {
	p := TrajectoryParams{Speed: 1, Interval: 0.1, Steps: 190, TurnRadius: 2}
	traj, err := FromWaypoints([]geom.Vec3{geom.V(0, 0, 2), geom.V(10, 0, 2), geom.V(10, 10, 2)}, p)
	if err != nil {
		t.Fatal(err)
	}
	checkTrajectory(t, traj, p, nil)
	for i, got := range traj {
		s := float64(i) * 0.1
		var want geom.Vec3
		switch {
		case s <= 8:
			want = geom.V(s, 0, 2)
		case s <= 8+math.Pi:
			phi := (s - 8) / 2
			want = geom.V(8+2*math.Sin(phi), 2-2*math.Cos(phi), 2)
		default:
			want = geom.V(10, 2+s-8-math.Pi, 2)
		}
		if got.Dist(want) > 1e-12 {
			t.Fatalf("sample %d (s = %g m) at %v, want %v", i, s, got, want)
		}
	}
	// Sharp corners: the path goes through the waypoint.
	p.TurnRadius, p.Steps = 0, 201
	traj, err = FromWaypoints([]geom.Vec3{geom.V(0, 0, 2), geom.V(10, 0, 2), geom.V(10, 10, 2)}, p)
	if err != nil {
		t.Fatal(err)
	}
	if traj[100].Dist(geom.V(10, 0, 2)) > 1e-12 || traj[200].Dist(geom.V(10, 10, 2)) > 1e-12 {
		t.Errorf("sharp path at %v and %v, want the corner and the end", traj[100], traj[200])
	}
}

func TestFromWaypointsErrors(t *testing.T) {
	ok := TrajectoryParams{Speed: 1, Interval: 0.1, Steps: 10, TurnRadius: 2}
	l := []geom.Vec3{geom.V(0, 0, 0), geom.V(10, 0, 0), geom.V(10, 10, 0)}
	for _, tc := range []struct {
		name, want string
		wps        []geom.Vec3
		mod        func(*TrajectoryParams)
	}{
		{"speed", "Speed", l, func(p *TrajectoryParams) { p.Speed = 0 }},
		{"interval", "Interval", l, func(p *TrajectoryParams) { p.Interval = math.NaN() }},
		{"steps", "Steps", l, func(p *TrajectoryParams) { p.Steps = 0 }},
		{"radius", "TurnRadius", l, func(p *TrajectoryParams) { p.TurnRadius = -1 }},
		{"junction", "JunctionRun", l, func(p *TrajectoryParams) { p.JunctionRun = -1 }},
		{"one waypoint", "waypoints", l[:1], func(*TrajectoryParams) {}},
		{"too short", "need", l, func(p *TrajectoryParams) { p.Steps = 1000 }},
		{"coincide", "coincide", []geom.Vec3{l[0], l[1], l[1], l[2]}, func(*TrajectoryParams) {}},
		{"reversal", "reverses", []geom.Vec3{l[0], l[1], l[0]}, func(*TrajectoryParams) {}},
		{"tight", "leg 1–2", []geom.Vec3{l[0], l[1], geom.V(10, 3, 0), geom.V(0, 3, 0)}, func(*TrajectoryParams) {}},
	} {
		p := ok
		tc.mod(&p)
		_, err := FromWaypoints(tc.wps, p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// A single step needs no length at all.
	p := ok
	p.Steps = 1
	if traj, err := FromWaypoints(l, p); err != nil || len(traj) != 1 || traj[0] != l[0] {
		t.Errorf("one step: %v, %v; want [%v]", traj, err, l[0])
	}
}

func BenchmarkRandomTrajectory(b *testing.B) {
	_, w := testCity(b, 1)
	for _, bc := range []struct {
		name string
		p    TrajectoryParams
	}{
		{"T=100,100ms", TrajectoryParams{Speed: 1.2, Interval: 0.1, Steps: 100, TurnRadius: 3}},
		{"T=1000,100ms", TrajectoryParams{Speed: 1.2, Interval: 0.1, Steps: 1000, TurnRadius: 3}},
		{"T=10000,5ms", TrajectoryParams{Speed: 1.2, Interval: 0.005, Steps: 10000, TurnRadius: 3}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var seed uint64
			for b.Loop() {
				seed++
				if _, err := w.Random(rand.New(rand.NewPCG(seed, 0)), bc.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestNewWalkableCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	open := func(geom.Vec3) bool { return true }
	clear := func(a, b geom.Vec3) bool { return true }
	_, err := NewWalkable(ctx, geom.V(0, 0, 0), geom.V(100, 100, 0), 1, 1.5, open, clear)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}
