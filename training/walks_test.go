package training

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// gridData is a rows x cols grid at spacing a whose channel at (r, c) is the single entry r*cols+c+1
// (so a channel names its position), with the positions in noPath given an all-zero channel, and
// one trajectory pair that sets the walks' count (2), length and 0.1 m step.
func gridData(rows, cols int, a float64, noPath map[int]bool) *Data {
	d := &Data{NB: 1, NU: 1}
	for r := range rows {
		for c := range cols {
			i := r*cols + c
			h := []complex128{complex(float64(i+1), 0)}
			if noPath[i] {
				h[0] = 0
			}
			d.H, d.Pos = append(d.H, h), append(d.Pos, [3]float64{float64(c) * a, float64(r) * a, 1.5})
		}
	}
	for range 2 {
		var hs [][]complex128
		var ps [][3]float64
		for k := range 500 {
			hs, ps = append(hs, []complex128{1}), append(ps, [3]float64{0.1 * float64(k), 0, 1.5})
		}
		d.Traj, d.TrajPos = append(d.Traj, hs), append(d.TrajPos, ps)
	}
	return d
}

func TestSequenceDataWalksPositions(t *testing.T) {
	const a = 0.25
	noPath := map[int]bool{5*11 + 5: true, 7: true}
	d := gridData(101, 11, a, noPath)
	w, err := sequenceData(d, Config{Seed: 3, Sequences: SequencesPositions})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.traj) != 2 || len(w.traj[0]) != 500 || len(w.traj[1]) != 500 {
		t.Fatalf("got %d walks of %d steps, want the dataset's 2 x 500", len(w.traj), len(w.traj[0]))
	}
	var travelled float64
	for i, tr := range w.traj {
		for k, j := range tr {
			h, p := w.h[j], w.pos[j]
			idx := int(math.Round(p[1]/a))*11 + int(math.Round(p[0]/a))
			if h[0] != complex(float64(idx+1), 0) {
				t.Fatalf("walk %d step %d at %v carries the channel of position %v, want %d", i, k, p, h[0], idx+1)
			}
			if noPath[idx] {
				t.Fatalf("walk %d step %d visits position %d, which has no path", i, k, idx)
			}
			if k == 0 {
				continue
			}
			// a step stays or moves to one of the 8 grid neighbours
			if s := dist(p, w.pos[tr[k-1]]); s > math.Sqrt2*a+1e-9 {
				t.Fatalf("walk %d jumps %.3f m at step %d, want at most sqrt(2) x %.2f m", i, s, k, a)
			}
			travelled += dist(p, w.pos[tr[k-1]])
		}
	}
	// The walks travel 0.1 m per step on average: the odometer loses nothing at turns and holds
	// back less than one neighbour distance (sqrt(2) a) per walk, under 0.36 m / 499 steps, so
	// 1 % bounds it.
	if mean := travelled / (2 * 499); math.Abs(mean-0.1) > 0.001 {
		t.Errorf("mean speed %.4f m per step, want 0.1 (the dataset trajectories')", mean)
	}
	again, err := sequenceData(d, Config{Seed: 3, Sequences: SequencesPositions})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.traj[0], w.traj[0]) {
		t.Fatal("two walks with the same seed differ")
	}
	tr, err := sequenceData(d, Config{Seed: 3, Sequences: SequencesTrajectories})
	if err != nil {
		t.Fatal(err)
	}
	if tr.walk != nil || len(tr.traj) != 2 || len(tr.h) != 1000 || tr.pos[tr.traj[1][499]] != d.TrajPos[1][499] {
		t.Error("trajectories: want the dataset's own two trajectories and no walker")
	}
}

// With a walker every training batch is made of fresh walks (a training sample never repeats),
// while the validation windows stay the held-out walks' with the same noise every epoch.
func TestSequencesFreshWalks(t *testing.T) {
	d := gridData(101, 11, 0.25, nil)
	src, err := sequenceData(d, Config{Seed: 3, Sequences: SequencesPositions})
	if err != nil {
		t.Fatal(err)
	}
	q, err := newSequences(src, randomSetup(t, 1, 1, 1, 1, 1, 1), 20, 0.5, rand.New(rand.NewPCG(1, 2)), 7)
	if err != nil {
		t.Fatal(err)
	}
	nm := &norm{LogGainStd: 1}
	steps := func(rng *rand.Rand) [][]int {
		out := make([][]int, 2)
		q.inputs(nm, rng, []int{0, 1}, func(row, _, p int, _ float64) { out[row] = append(out[row], p) })
		return out
	}
	rng := rand.New(rand.NewPCG(4, 5))
	a, b := steps(rng), steps(rng)
	if slices.Equal(a[0], b[0]) || slices.Equal(a[0], q.windows[q.train[0]]) {
		t.Error("training sample 0 repeats: want a fresh walk per batch")
	}
	for _, w := range append(a, b...) {
		if len(w) != 20 {
			t.Fatalf("a fresh walk of %d steps, want T = 20", len(w))
		}
		for k := 1; k < len(w); k++ {
			if s := dist(src.pos[w[k]], src.pos[w[k-1]]); s > math.Sqrt2*0.25+1e-9 {
				t.Fatalf("a fresh walk jumps %.3f m", s)
			}
		}
	}
	if v1, v2 := q.inputs(nm, nil, []int{3}, func(int, int, int, float64) {}), q.inputs(nm, nil, []int{3}, func(int, int, int, float64) {}); !slices.Equal(v1, v2) {
		t.Error("a validation sample changes between calls")
	}
}

// gridWithEval is a 41 x 41 grid at spacing a with an evaluation walk of 100 positions 0.1 m apart
// along its row 20 (every 5th on a grid point when a = 0.25), evaluation channel k being -(k+1).
func gridWithEval(a float64) *Data {
	d := gridData(41, 41, a, nil)
	for k := range 100 {
		d.Eval = append(d.Eval, []complex128{complex(-float64(k+1), 0)})
		d.EvalPos = append(d.EvalPos, [3]float64{0.1 * float64(k), 20 * a, 1.5})
	}
	return d
}

// Fresh windows visit the densely packed evaluation positions (0.1 m apart on a 0.25 m grid) as
// often as the windows of the fixed walks do, not as often as walks started at a uniformly drawn
// position (which start on them in proportion to their number).
func TestFreshWindowsDistribution(t *testing.T) {
	const a = 0.25
	d := gridWithEval(a)
	for len(d.Traj) < 200 {
		d.Traj, d.TrajPos = append(d.Traj, d.Traj[0]), append(d.TrajPos, d.TrajPos[0])
	}
	src, err := sequenceData(d, Config{Seed: 5, Sequences: SequencesPositions, AE: AEConfig{IncludeEval: true}})
	if err != nil {
		t.Fatal(err)
	}
	onEval := func(ws [][]int) float64 {
		n, all := 0, 0
		for _, w := range ws {
			for _, p := range w {
				all++
				if p >= len(d.H) {
					n++
				}
			}
		}
		return float64(n) / float64(all)
	}
	var fixed, fresh, short [][]int
	for _, tr := range src.traj {
		for k := 0; k+20 <= len(tr); k += 20 {
			fixed = append(fixed, tr[k:k+20])
		}
	}
	g, err := newPosGraph(src.h, src.pos)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 9))
	for range 5000 {
		fresh, short = append(fresh, src.walk(rng, 20)), append(short, g.walk(rng, 20, 0.1))
	}
	// The fixed walks' share moves between 0.031 and 0.042 with the seed (5, 6, 7, 11: a walk that
	// reaches the line follows it), hence the bounds of a third either way; 5000 fresh windows
	// give 0.038, and 20-step walks started anywhere 0.055.
	fx, fr, sh := onEval(fixed), onEval(fresh), onEval(short)
	if fr < 0.75*fx || fr > 1.33*fx {
		t.Errorf("fresh windows: %.4f of their steps on the evaluation positions, the fixed walks %.4f", fr, fx)
	}
	if sh < 1.3*fr {
		t.Errorf("20-step walks %.4f against fresh windows %.4f: the test no longer tells them apart", sh, fr)
	}
}

func TestSequenceDataErrors(t *testing.T) {
	all := map[int]bool{}
	for i := range 9 {
		all[i] = i != 4
	}
	for _, c := range []struct {
		name   string
		d      *Data
		source string
		want   string
	}{
		{"source", gridData(3, 3, 1, nil), "grid", `training.sequences "grid"`},
		{"one position with a path", gridData(3, 3, 1, all), SequencesPositions, "1 static positions with a path"},
		{"no trajectories", &Data{NB: 1, NU: 1}, SequencesPositions, "the dataset's trajectories set"},
	} {
		if _, err := sequenceData(c.d, Config{Seed: 1, Sequences: c.source}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// With include_eval the walks also visit the evaluation walk's positions (the autoencoder's
// training set), here 0.1 m apart along a grid row and every 5th on a grid point; without it they
// never do. A coincident pair is not a pair of neighbours: a walk heading along the row would
// otherwise hop between them for ever.
func TestSequenceDataIncludeEval(t *testing.T) {
	const a = 0.25
	d := gridWithEval(a)
	g, err := newPosGraph(slices.Concat(d.H, d.Eval), slices.Concat(d.Pos, d.EvalPos))
	if err != nil {
		t.Fatal(err)
	}
	grid0 := 20 * 41 // the grid point under evaluation position 0
	if slices.Contains(g.nbrs[len(d.H)], grid0) || slices.Contains(g.nbrs[grid0], len(d.H)) {
		t.Fatal("coincident positions are neighbours")
	}
	for _, include := range []bool{false, true} {
		cfg := Config{Seed: 5, Sequences: SequencesPositions, AE: AEConfig{IncludeEval: include}}
		w, err := sequenceData(d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		visits := 0
		for i, tr := range w.traj {
			for k, j := range tr {
				if h := w.h[j]; real(h[0]) < 0 {
					visits++
					if p := d.EvalPos[int(-real(h[0]))-1]; p != w.pos[j] {
						t.Fatalf("walk %d step %d at %v carries the channel of evaluation position %v", i, k, w.pos[j], p)
					}
				}
			}
		}
		if include != (visits > 0) {
			t.Errorf("include_eval %v: %d steps on evaluation positions", include, visits)
		}
	}
}
