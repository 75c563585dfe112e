package users

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/rt"
	"github.com/cctrack/cctrack/sim/scene"
)

// TestRandomTracedCity wires the walkable space to the ray tracer on the default procedural city, as
// a simulation does: outdoor is "a ray straight up hits nothing", segmentClear is line of sight. The
// lattice must equal the one the analytic footprints give (lattice points fall on half metres, off
// every wall), and random walks must stay outdoor by the tracer's own account.
func TestRandomTracedCity(t *testing.T) {
	p := scene.DefaultCityParams()
	sc, err := scene.City(p, 5)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := rt.New(sc, rt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	up := geom.V(0, 0, 1)
	outdoor := func(q geom.Vec3) bool { _, _, hit := tr.Hit(q, up, 1e4); return !hit }
	wx, wy := p.Size()
	lo, hi := geom.V(-wx/2, -wy/2, 0), geom.V(wx/2, wy/2, 0)
	w, err := NewWalkable(context.Background(), lo, hi, 1, 1.5, outdoor, tr.Visible)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := p.Buildings(5)
	if err != nil {
		t.Fatal(err)
	}
	var o obstacles
	for _, b := range bs {
		o = append(o, rect{b.Min.X, b.Min.Y, b.Max.X, b.Max.Y})
	}
	want, err := NewWalkable(context.Background(), lo, hi, 1, 1.5, o.outdoor, o.segmentClear)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.walk, want.walk) || !slices.Equal(w.conn, want.conn) {
		t.Fatal("the traced lattice differs from the analytic one")
	}
	tp := TrajectoryParams{Speed: 1.2, Interval: 0.01, Steps: 20000, TurnRadius: 2}
	for seed := range uint64(4) {
		traj, err := w.Random(rand.New(rand.NewPCG(seed, 5)), tp)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		checkTrajectory(t, traj, tp, w)
		for i, q := range traj {
			if !outdoor(q) {
				t.Fatalf("seed %d: sample %d at %v is under a roof", seed, i, q)
			}
		}
	}
}
