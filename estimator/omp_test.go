package estimator

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/beamforming"
)

// gridAtom is dictionary atom a of a UPA from its definition: grid point (p_h, p_v) with
// a = p_v·(O N_h) + p_h, entry v N_h + h equal to exp(j2π(h p_h/(O N_h) + v p_v/(O N_v)))/sqrt(N).
func gridAtom(u UPA, oversample, a int) []complex128 {
	gh, gv := oversample*u.Nh, oversample*u.Nv
	ph, pv := a%gh, a/gh
	out := make([]complex128, u.Nh*u.Nv)
	for v := range u.Nv {
		for h := range u.Nh {
			phase := 2 * math.Pi * (float64(h*ph)/float64(gh) + float64(v*pv)/float64(gv))
			out[v*u.Nh+h] = cmplx.Rect(1/math.Sqrt(float64(u.Nh*u.Nv)), phase)
		}
	}
	return out
}

// gridChannel is H = sum_l x_l a_B(b_l) a_U(u_l)^T over L distinct random grid atoms, |x_l|
// between amp and 3·amp, drawing BS atoms only among those that keep(b) accepts.
func gridChannel(rng *rand.Rand, cfg OMPConfig, paths int, amp float64, keep func(b int) bool) []complex128 {
	nb, nu := cfg.BS.Nh*cfg.BS.Nv, cfg.UE.Nh*cfg.UE.Nv
	ab, au := nb*cfg.Oversample*cfg.Oversample, nu*cfg.Oversample*cfg.Oversample
	h := make([]complex128, nb*nu)
	seen := map[[2]int]bool{}
	for len(seen) < paths {
		s := [2]int{rng.IntN(ab), rng.IntN(au)}
		if seen[s] || !keep(s[0]) {
			continue
		}
		seen[s] = true
		x := unitPhase(rng) * complex(amp*(1+2*rng.Float64()), 0)
		a, u := gridAtom(cfg.BS, cfg.Oversample, s[0]), gridAtom(cfg.UE, cfg.Oversample, s[1])
		for i := range nb {
			for k := range nu {
				h[i*nu+k] += x * a[i] * u[k]
			}
		}
	}
	return h
}

// Noiseless channels of a few on-grid paths are recovered exactly. A single path takes exactly
// one atom (by Cauchy–Schwarz the true atom has the largest normalised correlation); with more,
// OMP on this coherent dictionary (6400 atoms seen through 96 observations) may detour through
// atoms that the least-squares refit later sets to zero, so only the estimate is checked.
func TestOMPRecoversGridChannels(t *testing.T) {
	bs, ue := UPA{10, 10}, UPA{2, 2}
	cfg := DefaultOMPConfig(bs, ue)
	e, err := NewOMP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	all := func(int) bool { return true }
	for _, paths := range []int{1, 3, 5} {
		rng := rand.New(rand.NewPCG(31, uint64(paths)))
		for trial := range 10 {
			d := randomDesign(rng, 100, 4, 24, 4, paperPower)
			if err := e.Prepare(d, 0); err != nil {
				t.Fatal(err)
			}
			h := gridChannel(rng, cfg, paths, 3e-6, all)
			hhat := make([]complex128, len(h))
			if err := e.Estimate(hhat, observe(rng, d, h, 0)); err != nil {
				t.Fatal(err)
			}
			// Exact up to round-off in the QR refit, NMSE ~ (cond·ε)^2 < 1e-26; 1e-20 leaves
			// margin.
			if nmse := NMSE(h, hhat); nmse > 1e-20 {
				t.Errorf("%d paths, trial %d: NMSE %g with %d atoms, want <= 1e-20", paths, trial, nmse, e.Paths())
			}
			if paths == 1 && e.Paths() != 1 {
				t.Errorf("1 path, trial %d: %d atoms", trial, e.Paths())
			}
		}
	}
}

// residual returns ||Y - W^H Ĥ G||_F^2, the residual energy OMP's stopping rule tests.
func residual(d beamforming.Design, y, hhat []complex128) float64 {
	fit := observe(nil, d, hhat, 0)
	var s float64
	for i, v := range y {
		s += sq(v - fit[i])
	}
	return s
}

// OMP stops at MaxPaths atoms, or at the first atom count whose residual is at most
// ResidualFactor·M_B M_U σ²: the residual is below the threshold when it stopped early, and above
// it with one atom fewer (the first k-1 selections do not depend on MaxPaths).
func TestOMPStoppingRules(t *testing.T) {
	bs, ue := UPA{10, 10}, UPA{2, 2}
	const noise = paperNoise
	for _, tc := range []struct {
		name      string
		paths     int
		amp       float64 // path amplitude scale; per-path image energy ~ amp²·P·(M_B M_U/(N_B N_U))
		maxPaths  int
		factor    float64
		wantPaths int // 0: any, subject to the residual rule
	}{
		// The noise-free residual after 3 of 5 paths is far above any threshold.
		{"path budget", 5, 3e-6, 3, 1, 3},
		// One path 40 dB above the threshold: after it, the residual is noise alone with energy
		// σ²·Gamma(95) (mean 95σ², std 9.7σ²), so a threshold of 2·96σ² is 10 std away.
		{"single path", 1, 1e-4, 8, 2, 1},
		{"three paths, factor 1", 3, 3e-6, 8, 1, 0},
		{"weak paths, factor 4", 4, 1e-7, 8, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(32, uint64(tc.paths*tc.maxPaths)))
			cfg := DefaultOMPConfig(bs, ue)
			cfg.MaxPaths, cfg.ResidualFactor = tc.maxPaths, tc.factor
			thr := tc.factor * 96 * noise
			for trial := range 10 {
				d := randomDesign(rng, 100, 4, 24, 4, paperPower)
				h := gridChannel(rng, cfg, tc.paths, tc.amp, func(int) bool { return true })
				y := observe(rng, d, h, noise)
				e, err := NewOMP(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Prepare(d, noise); err != nil {
					t.Fatal(err)
				}
				hhat := make([]complex128, len(h))
				if err := e.Estimate(hhat, y); err != nil {
					t.Fatal(err)
				}
				k := e.Paths()
				if tc.wantPaths != 0 && k != tc.wantPaths {
					t.Errorf("trial %d: %d atoms, want %d", trial, k, tc.wantPaths)
				}
				if r := residual(d, y, hhat); k < tc.maxPaths && r > thr {
					t.Errorf("trial %d: stopped at %d < MaxPaths atoms with residual %g > threshold %g", trial, k, r, thr)
				}
				if k == 0 {
					continue
				}
				fewer := cfg
				fewer.MaxPaths = k - 1
				if k == 1 {
					// With no atom the "estimate" is zero and the residual is ||Y||^2.
					if r := sq2(y); r <= thr {
						t.Errorf("trial %d: took an atom with ||Y||^2 = %g <= threshold %g", trial, r, thr)
					}
					continue
				}
				ef, err := NewOMP(fewer)
				if err != nil {
					t.Fatal(err)
				}
				if err := ef.Prepare(d, noise); err != nil {
					t.Fatal(err)
				}
				if err := ef.Estimate(hhat, y); err != nil {
					t.Fatal(err)
				}
				if r := residual(d, y, hhat); r <= thr {
					t.Errorf("trial %d: took atom %d with residual %g <= threshold %g before it", trial, k, r, thr)
				}
			}
		})
	}
}

// When the atom images span only part of the observation space (M_B = 6 beams of a 4-element
// BS: the images span 4 dimensions of 6), the noise outside that span never leaves the residual.
// Forced on by ResidualFactor 0, OMP spans the 4 dimensions and then stops, since any further
// atom lies in the span, instead of fitting round-off; its estimate is then the LS one.
func TestOMPStopsWhenTheAtomsAreExhausted(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	cfg := DefaultOMPConfig(UPA{2, 2}, UPA{1, 1})
	cfg.MaxPaths, cfg.ResidualFactor = 10, 0
	d := randomDesign(rng, 4, 1, 6, 1, paperPower)
	h := iidChannel(rng, 4, 1e-11)
	y := observe(rng, d, h, paperNoise)
	e, err := NewOMP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ls := NewLS()
	for _, est := range []Estimator{e, ls} {
		if err := est.Prepare(d, paperNoise); err != nil {
			t.Fatal(err)
		}
	}
	got, want := make([]complex128, 4), make([]complex128, 4)
	if err := e.Estimate(got, y); err != nil {
		t.Fatal(err)
	}
	if err := ls.Estimate(want, y); err != nil {
		t.Fatal(err)
	}
	if e.Paths() != 4 {
		t.Errorf("%d atoms, want 4 (the dimension the atoms span)", e.Paths())
	}
	// Both are least-squares fits over the same 4-dimensional subspace, computed differently;
	// 1e-20 as NMSE is a relative difference of 1e-10.
	if diff := NMSE(want, got); diff > 1e-20 {
		t.Errorf("OMP differs from LS by %g (NMSE)", diff)
	}
}

func sq2(v []complex128) float64 {
	var s float64
	for _, x := range v {
		s += sq(x)
	}
	return s
}

// With classic DFT beams at the BS (24 of the 100 orthogonal 2-D beams), many dictionary atoms
// are orthogonal to every beam; OMP must treat them as unobservable, not normalise round-off.
func TestOMPIgnoresUnseenAtoms(t *testing.T) {
	bs, ue := UPA{10, 10}, UPA{2, 2}
	cfg := DefaultOMPConfig(bs, ue)
	rng := rand.New(rand.NewPCG(33, 34))
	d := beamforming.Design{NB: 100, NU: 4, MB: 24, MU: 4,
		W: make([]complex128, 100*24), F: make([]complex128, 16), S: make([]complex128, 4)}
	for b, a := range rng.Perm(100)[:24] {
		for i, v := range gridAtom(bs, 1, a) {
			d.W[i*24+b] = v
		}
	}
	for i := range d.F {
		d.F[i] = unitPhase(rng) / 2
	}
	for i := range d.S {
		d.S[i] = complex(math.Sqrt(paperPower), 0)
	}
	e, err := NewOMP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Prepare(d, paperNoise); err != nil {
		t.Fatal(err)
	}
	unseen := 0
	for b := range 400 {
		a := gridAtom(bs, cfg.Oversample, b)
		var seen float64
		for c := range 24 {
			var s complex128
			for i := range 100 {
				s += cmplx.Conj(d.W[i*24+c]) * a[i]
			}
			seen += sq(s)
		}
		// An atom is either orthogonal to every beam (energy ~1e-32, round-off) or seen with at
		// least ~1e-3 of its energy (a Dirichlet-kernel sidelobe), so 1e-12 splits them.
		if want := seen < 1e-12; want != (e.bn[b] == 0) {
			t.Errorf("atom %d: seen with energy %g, excluded %v", b, seen, e.bn[b] == 0)
		}
		if seen < 1e-12 {
			unseen++
		}
	}
	if unseen == 0 {
		t.Fatal("the design sees every atom; the test exercises nothing")
	}
	// Pure noise, forced to MaxPaths atoms: every coefficient stays at the noise level instead of
	// noise divided by the round-off image of an unseen atom (~1e16 times larger).
	e.cfg.ResidualFactor = 0
	if err := e.Prepare(d, paperNoise); err != nil {
		t.Fatal(err)
	}
	hhat := make([]complex128, 400)
	if err := e.Estimate(hhat, observe(rng, d, make([]complex128, 400), paperNoise)); err != nil {
		t.Fatal(err)
	}
	for j, s := range e.sel[:e.Paths()] {
		if e.bn[s[0]] == 0 {
			t.Errorf("selected unseen atom %d", s[0])
		}
		// |x| ≈ noise amplitude / image norm; the weakest seen image is >= ~1e-3·sqrt(P) in norm.
		if lim := 1e3 * math.Sqrt(96*paperNoise/paperPower); cmplx.Abs(e.x[j]) > lim {
			t.Errorf("coefficient %d is %g > %g", j, cmplx.Abs(e.x[j]), lim)
		}
	}
}

func TestOMPConfigErrors(t *testing.T) {
	ok := DefaultOMPConfig(UPA{10, 10}, UPA{2, 2})
	for _, tc := range []struct {
		field string
		mod   func(*OMPConfig)
	}{
		{"BS.Nh", func(c *OMPConfig) { c.BS.Nh = 0 }},
		{"BS.Nv", func(c *OMPConfig) { c.BS.Nv = -1 }},
		{"UE.Nh", func(c *OMPConfig) { c.UE.Nh = 0 }},
		{"UE.Nv", func(c *OMPConfig) { c.UE.Nv = 0 }},
		{"Oversample", func(c *OMPConfig) { c.Oversample = 0 }},
		{"MaxPaths", func(c *OMPConfig) { c.MaxPaths = 0 }},
		{"ResidualFactor", func(c *OMPConfig) { c.ResidualFactor = -1 }},
		{"ResidualFactor", func(c *OMPConfig) { c.ResidualFactor = math.NaN() }},
		{"ResidualFactor", func(c *OMPConfig) { c.ResidualFactor = math.Inf(1) }},
	} {
		c := ok
		tc.mod(&c)
		if _, err := NewOMP(c); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: error %v, want one naming %s", c, err, tc.field)
		}
	}
	if _, err := NewOMP(ok); err != nil {
		t.Errorf("default config: %v", err)
	}
}

func TestOMPPrepareErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	d := randomDesign(rng, 100, 4, 24, 4, paperPower)
	for _, tc := range []struct {
		name   string
		bs, ue UPA
		want   string
	}{
		{"BS size", UPA{10, 5}, UPA{2, 2}, "BS array 10 x 5"},
		{"UE size", UPA{10, 10}, UPA{4, 2}, "UE array 4 x 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewOMP(DefaultOMPConfig(tc.bs, tc.ue))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Prepare(d, paperNoise); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
