package training

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Where the trackers' training sequences come from (Config.Sequences).
const (
	// SequencesPositions walks the static dataset's positions (the paper's protocol, section V:
	// "T-length channel sequences following continuous trajectories from the dataset"): every
	// latent target is the encoding of a channel the autoencoder learned.
	SequencesPositions = "positions"
	// SequencesTrajectories takes the dataset's own traced random walks, whose positions the
	// autoencoder has not seen unless they coincide with its training positions.
	SequencesTrajectories = "trajectories"
)

// seqSource is where a trainer's windows come from: a pool of channels at their positions, the
// trajectories as indices into the pool, and for SequencesPositions a walker that draws fresh
// windows of n steps over the pool (nil for SequencesTrajectories, whose traced walks are all there
// is).
type seqSource struct {
	nb, nu int
	h      [][]complex128
	pos    [][3]float64
	traj   [][]int
	walk   func(rng *rand.Rand, n int) []int
}

// sequenceData is the source of d's training sequences. For SequencesTrajectories it is d's traced
// trajectories. For SequencesPositions it is the positions the autoencoder trains on: the static
// ones and, with include_eval, the evaluation walk's (in the paper the evaluation walk is made of
// dataset positions, so its training sequences may pass along it), with as many seeded walks as d
// has trajectories, of their length and speed, and a walker for fresh windows of such walks.
func sequenceData(d *Data, cfg Config) (*seqSource, error) {
	src := &seqSource{nb: d.NB, nu: d.NU}
	switch cfg.Sequences {
	case SequencesTrajectories:
		for i, tr := range d.Traj {
			idx := make([]int, len(tr))
			for k := range tr {
				idx[k] = len(src.h) + k
			}
			src.h, src.pos, src.traj = append(src.h, tr...), append(src.pos, d.TrajPos[i]...), append(src.traj, idx)
		}
		return src, nil
	case SequencesPositions:
	default:
		return nil, fmt.Errorf("training.sequences %q: want %q or %q", cfg.Sequences, SequencesPositions, SequencesTrajectories)
	}
	if len(d.Traj) == 0 || len(d.Traj[0]) < 2 {
		return nil, fmt.Errorf("training.sequences positions: the dataset's trajectories set the walks' count, length and speed; it has %d", len(d.Traj))
	}
	step := medianStep(d.TrajPos)
	src.h, src.pos = d.H, d.Pos
	if cfg.AE.IncludeEval {
		src.h, src.pos = slices.Concat(d.H, d.Eval), slices.Concat(d.Pos, d.EvalPos)
	}
	g, err := newPosGraph(src.h, src.pos)
	if err != nil {
		return nil, err
	}
	length := len(d.Traj[0])
	// A fresh window is n steps at a random offset of a fresh walk as long as the dataset's: the
	// distribution of the fixed walks' windows. A walk of n steps alone would start at a uniformly
	// drawn position and so oversample densely packed ones, such as the evaluation walk's 0.1 m
	// steps with include_eval (17 % of the steps on them on paper-10x10, against 11 %).
	src.walk = func(rng *rand.Rand, n int) []int {
		k := rng.IntN(max(length-n, 0) + 1)
		return g.walk(rng, k+n, step)[k:]
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x3a1c))
	for range d.Traj {
		src.traj = append(src.traj, g.walk(rng, length, step))
	}
	return src, nil
}

// medianStep is the median distance between consecutive steps of the trajectories (speed x
// interval).
func medianStep(traj [][][3]float64) float64 {
	var ds []float64
	for _, tr := range traj {
		for k := 1; k < len(tr); k++ {
			ds = append(ds, dist(tr[k], tr[k-1]))
		}
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func dist(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

// posGraph links every static position with a path to those within 1.5 x the median
// nearest-neighbour spacing a (on a grid: the 8 neighbours, diagonals at sqrt(2) a).
type posGraph struct {
	pos   [][3]float64
	r     float64 // the neighbourhood radius
	nodes []int   // positions with a non-zero channel
	nbrs  [][]int // per position, its neighbours (positions with a path only)
}

func newPosGraph(chans [][]complex128, pos [][3]float64) (*posGraph, error) {
	g := &posGraph{pos: pos, nbrs: make([][]int, len(pos))}
	for i, h := range chans {
		if !allZero(h) {
			g.nodes = append(g.nodes, i)
		}
	}
	if len(g.nodes) < 2 {
		return nil, fmt.Errorf("training.sequences positions: %d static positions with a path, want at least 2", len(g.nodes))
	}
	// O(K^2) over a few thousand positions: a fraction of a second, once per training run.
	nearest := make([]float64, 0, len(g.nodes))
	for _, i := range g.nodes {
		m := math.Inf(1)
		for _, j := range g.nodes {
			if j != i {
				m = math.Min(m, dist(pos[i], pos[j]))
			}
		}
		nearest = append(nearest, m)
	}
	slices.Sort(nearest)
	g.r = 1.5 * nearest[len(nearest)/2]
	r := g.r
	isolated := 0
	for _, i := range g.nodes {
		for _, j := range g.nodes {
			// coincident positions (an evaluation position on a grid point) are not neighbours:
			// a walk could never travel the distance between them
			if d := dist(pos[i], pos[j]); d > 1e-6*r && d <= r {
				g.nbrs[i] = append(g.nbrs[i], j)
			}
		}
		if len(g.nbrs[i]) == 0 {
			isolated++
		}
	}
	if isolated == len(g.nodes) {
		return nil, fmt.Errorf("training.sequences positions: no two static positions with a path lie within %.3g m of each other", r)
	}
	return g, nil
}

// walk is a random walk of n steps that travels step metres per interval: it keeps a heading that
// drifts by about 3 degrees per step and moves, once the distance travelled since the last move
// reaches it, to the neighbour within 60 degrees of the heading that maximises
// cos(bearing - heading) - d/(2r) (well aligned, and the nearest of several in line, where
// positions of different spacings mix); where none lies within 60 degrees (an edge of the area) it
// turns towards a random neighbour. Positions repeat while the
// distance accumulates: on a grid coarser than step the user dwells, as a walker between
// grid points would be seen at the nearest one.
func (g *posGraph) walk(rng *rand.Rand, n int, step float64) []int {
	const drift, maxTurn = 0.05, math.Pi / 3
	cur := g.nodes[rng.IntN(len(g.nodes))]
	for len(g.nbrs[cur]) == 0 {
		cur = g.nodes[rng.IntN(len(g.nodes))]
	}
	heading := g.bearing(cur, g.nbrs[cur][rng.IntN(len(g.nbrs[cur]))])
	out := make([]int, 0, n)
	var travelled float64
	for range n {
		out = append(out, cur)
		heading += drift * rng.NormFloat64()
		travelled += step
		for {
			next, best := -1, math.Inf(-1)
			for _, j := range g.nbrs[cur] {
				c := math.Cos(g.bearing(cur, j) - heading)
				if score := c - dist(g.pos[cur], g.pos[j])/(2*g.r); c >= math.Cos(maxTurn) && score > best {
					next, best = j, score
				}
			}
			if next < 0 {
				next = g.nbrs[cur][rng.IntN(len(g.nbrs[cur]))]
				heading = g.bearing(cur, next)
			}
			d := dist(g.pos[cur], g.pos[next])
			if travelled < d {
				break
			}
			travelled -= d
			cur = next
		}
	}
	return out
}

// bearing is the azimuth from position i to position j.
func (g *posGraph) bearing(i, j int) float64 {
	return math.Atan2(g.pos[j][1]-g.pos[i][1], g.pos[j][0]-g.pos[i][0])
}
