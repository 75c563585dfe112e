package training

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/cctrack/cctrack/estimator"
)

func TestPreprocessRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	random := make([]complex128, 40)
	for i := range random {
		random[i] = complex(rng.NormFloat64(), rng.NormFloat64()) * 1e-6
	}
	equal := make([]complex128, 8) // one path on ideal arrays: every |h| equal, beta floored
	for i := range equal {
		equal[i] = cmplx.Rect(3e-7, 0.4*float64(i))
	}
	for _, tc := range []struct {
		name        string
		h           []complex128
		alpha, beta float64 // expected; NaN: not checked
	}{
		{"random", random, math.NaN(), math.NaN()},
		{"equal magnitudes", equal, 3e-7, 3e-7 * minBetaRatio},
		{"two values", []complex128{1, -3, 1i, -3i}, 2, 1},
		{"phase pi", []complex128{-1, 1}, 1, 1e-6},
		{"zero", make([]complex128, 4), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := make([]float32, 2*len(tc.h))
			alpha, beta := Preprocess(tc.h, v)
			// alpha and beta are float64 sums of len(h) terms: 1e-12 relative is far above rounding.
			if !math.IsNaN(tc.alpha) && (math.Abs(alpha-tc.alpha) > 1e-12*tc.alpha || math.Abs(beta-tc.beta) > 1e-12*math.Max(tc.beta, 1e-300)) {
				t.Errorf("alpha, beta = %g, %g, want %g, %g", alpha, beta, tc.alpha, tc.beta)
			}
			for i, x := range v[len(tc.h):] {
				if x < -1 || x > 1 {
					t.Errorf("phase entry %d = %g outside [-1, 1]", i, x)
				}
			}
			got := make([]complex128, len(tc.h))
			Postprocess(v, alpha, beta, got)
			// v is float32: relative error about 6e-8 per entry in amplitude (times |v| up to a few)
			// and in phase (times pi); 1e-6 of the largest |h| bounds both.
			var peak float64
			for _, x := range tc.h {
				peak = math.Max(peak, cmplx.Abs(x))
			}
			for i := range got {
				if d := cmplx.Abs(got[i] - tc.h[i]); d > 1e-6*peak {
					t.Errorf("entry %d: f^-1(f(h)) = %v, want %v", i, got[i], tc.h[i])
				}
			}
		})
	}
}

// TestDotGeneralVJP checks the DotGeneral/Dot gradient override against central finite
// differences in float64, for the layouts the models use and general ones (batch axes, two
// contracting axes, permuted axes).
func TestDotGeneralVJP(t *testing.T) {
	b, err := backend()
	if err != nil {
		t.Fatal(err)
	}
	type product func(a, b *Node) *Node
	for _, tc := range []struct {
		name   string
		da, db []int
		f      product
	}{
		{"dense [B,in]x[out,in]", []int{3, 4}, []int{5, 4}, func(a, b *Node) *Node { return DotGeneral(a, []int{1}, nil, b, []int{1}, nil) }},
		{"dense rank 3", []int{2, 3, 4}, []int{5, 4}, func(a, b *Node) *Node { return DotGeneral(a, []int{2}, nil, b, []int{1}, nil) }},
		{"gram z zT", []int{4, 3}, []int{4, 3}, func(a, b *Node) *Node { return DotGeneral(a, []int{1}, nil, b, []int{1}, nil) }},
		{"batch + permuted", []int{3, 2, 4}, []int{4, 5, 2}, func(a, b *Node) *Node { return DotGeneral(a, []int{2}, []int{1}, b, []int{0}, []int{2}) }},
		{"two contracting", []int{2, 3, 4}, []int{4, 2, 5}, func(a, b *Node) *Node { return DotGeneral(a, []int{2, 0}, nil, b, []int{0, 1}, nil) }},
		{"Dot matrix", []int{3, 4}, []int{4, 2}, Dot},
		{"Dot matrix-vector", []int{3, 4}, []int{4}, Dot},
		{"Dot vector", []int{4}, []int{4}, Dot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, 2))
			fill := func(dims []int) []float64 { return randn(rng, dims) }
			av, bv := fill(tc.da), fill(tc.db)
			// loss = sum(product(a, b) * c) with c fixed: its gradient is the VJP of c.
			var c []float64
			loss := func(a, b *Node) *Node {
				p := tc.f(a, b)
				if c == nil {
					c = fill(p.Shape().Dimensions)
				}
				cn := Const(a.Graph(), tensors.FromFlatDataAndDimensions(c, p.Shape().Dimensions...))
				return ReduceAllSum(Mul(p, cn))
			}
			gradExec, err := NewExec(b, func(a, b *Node) []*Node {
				return Gradient(loss(a, b), a, b)
			})
			if err != nil {
				t.Fatal(err)
			}
			lossExec, err := NewExec(b, loss)
			if err != nil {
				t.Fatal(err)
			}
			at := func(x []float64, dims []int) *tensors.Tensor {
				return tensors.FromFlatDataAndDimensions(append([]float64(nil), x...), dims...)
			}
			grads, err := gradExec.Exec(at(av, tc.da), at(bv, tc.db))
			if err != nil {
				t.Fatal(err)
			}
			eval := func(a, b []float64) float64 {
				out, err := lossExec.Exec(at(a, tc.da), at(b, tc.db))
				if err != nil {
					t.Fatal(err)
				}
				return tensors.MustCopyFlatData[float64](out[0])[0]
			}
			for k, x := range [][]float64{av, bv} {
				g := tensors.MustCopyFlatData[float64](grads[k])
				for i := range x {
					// The loss is bilinear, so the central difference is exact up to rounding:
					// ~1e-16 · |terms| / h, far below 1e-6.
					const h = 1e-4
					old := x[i]
					x[i] = old + h
					up := eval(av, bv)
					x[i] = old - h
					down := eval(av, bv)
					x[i] = old
					if fd := (up - down) / (2 * h); math.Abs(fd-g[i]) > 1e-6*(1+math.Abs(fd)) {
						t.Errorf("operand %d entry %d: gradient %g, finite difference %g", k, i, g[i], fd)
					}
				}
			}
		})
	}
}

// TestNoDeadlock runs a small batch-1 graph (an LSTM step and a decoder, as Session.Step) many
// times at GOMAXPROCS=2 under a timeout: with the pure-Go backend's default parallel scheduling it
// deadlocked on its second call (DESIGN.md).
func TestNoDeadlock(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	tr, _ := tinyTracker(t, 2)
	done := make(chan error, 1)
	go func() {
		s, err := tr.NewSession()
		if err != nil {
			done <- err
			return
		}
		y := make([]complex128, 8)
		for i := range y {
			y[i] = complex(float64(i+1), 1) * 1e-4
		}
		h := make([]complex128, tinyNB*tinyNU)
		for range 20 {
			if err := s.Step(y, h); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute): // 20 steps take milliseconds; minutes mean a deadlock
		t.Fatal("20 session steps did not finish: the backend deadlocked")
	}
}

// tinyTracker is an untrained tracker on the tiny testbed (layers LSTM layers).
func tinyTracker(t testing.TB, layers int) (*Tracker, *model) {
	cfg := tinyConfig()
	cfg.Tracker.LSTMLayers = layers
	d := tinyData(3, 20, 1)
	ae := newAutoencoder(cfg, tinyNB, tinyNU, rand.New(rand.NewPCG(1, 2)))
	tr, m, err := trackerProblem(d, ae, tinySetup(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return tr, m
}

// trained is the tiny scenario trained once for the tests that need trained models.
type trained struct {
	d                  *Data
	s                  Setup
	ae                 *Autoencoder
	tr                 *Tracker
	e2e                *E2E
	aeDir, trDir, eDir string
}

// fixtureDir holds the trained tiny models; TestMain removes it.
var fixtureDir string

func TestMain(m *testing.M) {
	var err error
	if fixtureDir, err = os.MkdirTemp("", "cctrack-training-test"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(fixtureDir)
	os.Exit(code)
}

var tinyTrained = sync.OnceValues(func() (*trained, error) {
	dir := fixtureDir
	var err error
	x := &trained{d: tinyData(12, 60, 1), aeDir: filepath.Join(dir, "ae"), trDir: filepath.Join(dir, "tracker"), eDir: filepath.Join(dir, "e2e")}
	x.s = tinySetup()
	cfg := tinyConfig()
	ctx := context.Background()
	if x.ae, err = TrainAutoencoder(ctx, x.d, cfg, x.aeDir, quietLog(), nil); err != nil {
		return nil, err
	}
	if x.tr, err = TrainTracker(ctx, x.d, x.ae, x.s, cfg, x.trDir, quietLog(), nil); err != nil {
		return nil, err
	}
	if x.e2e, err = TrainE2E(ctx, x.d, x.s, cfg, x.eDir, quietLog(), nil); err != nil {
		return nil, err
	}
	return x, nil
})

func getTrained(t *testing.T) *trained {
	t.Helper()
	x, err := tinyTrained()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// runNMSE is the mean NMSE (dB) of a session and of LS over the tiny evaluation walk, with seeded
// noise; the session's outputs are returned for bit-exact comparisons.
func runNMSE(t *testing.T, x *trained, s *Session) (session, ls float64, out [][]complex128) {
	e := estimator.NewLS()
	if err := e.Prepare(x.s.Design, x.s.Noise); err != nil {
		t.Fatal(err)
	}
	pm := newPilotModel(x.s)
	rng := rand.New(rand.NewPCG(99, 0))
	y0, y := make([]complex128, pm.obs()), make([]complex128, pm.obs())
	var ms, ml estimator.Mean
	for _, h := range x.d.Eval {
		pm.clean(h, y0)
		pm.addNoise(rng, y0, y)
		hhat := make([]complex128, len(h))
		if err := s.Step(y, hhat); err != nil {
			t.Fatal(err)
		}
		ms.Add(estimator.NMSE(h, hhat))
		out = append(out, hhat)
		lsh := make([]complex128, len(h))
		if err := e.Estimate(lsh, y); err != nil {
			t.Fatal(err)
		}
		ml.Add(estimator.NMSE(h, lsh))
	}
	return ms.DB(), ml.DB(), out
}

// TestTinyTrackerBeatsLS: on the tiny testbed (16 unknowns, 8 observations, ~30 dB SNR),
// minimum-norm LS keeps only the observed half of the channel's energy (about -3 dB). The tracker
// (measured here at about -8 dB, its autoencoder alone at about -18 dB: small latent errors cost a
// lot through the decoder) must be at least 3 dB below LS on the held-out evaluation walk, a margin
// well above the run-to-run spread of a few tenths of a dB between seeds. The end-to-end baseline
// (about -21 dB) must beat LS too.
func TestTinyTrackerBeatsLS(t *testing.T) {
	x := getTrained(t)
	s, err := x.tr.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	tr, ls, _ := runNMSE(t, x, s)
	es, err := x.e2e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	e2e, _, _ := runNMSE(t, x, es)
	t.Logf("evaluation walk: tracker %.2f dB, e2e %.2f dB, LS %.2f dB; the autoencoder alone %.2f dB", tr, e2e, ls, aeNMSE(t, x.ae, x.d.Eval))
	if !(tr < ls-3) {
		t.Errorf("tracker %.2f dB is not 3 dB below LS %.2f dB", tr, ls)
	}
	if !(e2e < ls-3) {
		t.Errorf("e2e %.2f dB is not 3 dB below LS %.2f dB", e2e, ls)
	}
}

// TestCheckpointRoundTrip: loaded models give bit-identical outputs.
func TestCheckpointRoundTrip(t *testing.T) {
	x := getTrained(t)
	for _, tc := range []struct {
		name string
		a, b func() (*Session, error)
	}{
		{"tracker", x.tr.NewSession, func() (*Session, error) {
			m, err := LoadTracker(x.trDir)
			if err != nil {
				return nil, err
			}
			return m.NewSession()
		}},
		{"e2e", x.e2e.NewSession, func() (*Session, error) {
			m, err := LoadE2E(x.eDir)
			if err != nil {
				return nil, err
			}
			return m.NewSession()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sa, err := tc.a()
			if err != nil {
				t.Fatal(err)
			}
			sb, err := tc.b()
			if err != nil {
				t.Fatal(err)
			}
			_, _, oa := runNMSE(t, x, sa)
			_, _, ob := runNMSE(t, x, sb)
			for i := range oa {
				for j := range oa[i] {
					if oa[i][j] != ob[i][j] {
						t.Fatalf("step %d entry %d: trained %v, loaded %v", i, j, oa[i][j], ob[i][j])
					}
				}
			}
		})
	}
	ae, err := LoadAutoencoder(x.aeDir)
	if err != nil {
		t.Fatal(err)
	}
	za, zb := make([]float32, ae.Latent()), make([]float32, ae.Latent())
	for _, h := range x.d.Eval[:5] {
		a1, b1, err1 := x.ae.Encode(h, za)
		a2, b2, err2 := ae.Encode(h, zb)
		if err1 != nil || err2 != nil || a1 != a2 || b1 != b2 {
			t.Fatalf("Encode: %v %v (%g, %g) vs (%g, %g)", err1, err2, a1, b1, a2, b2)
		}
		for i := range za {
			if za[i] != zb[i] {
				t.Fatalf("latent %d: trained %g, loaded %g", i, za[i], zb[i])
			}
		}
	}
	// Session.Reset returns to the first step's output.
	s, _ := x.tr.NewSession()
	_, _, first := runNMSE(t, x, s)
	s.Reset()
	_, _, again := runNMSE(t, x, s)
	if first[0][0] != again[0][0] || first[len(first)-1][0] != again[len(again)-1][0] {
		t.Error("Reset does not restore the initial state")
	}
}

func TestCheckMismatch(t *testing.T) {
	x := getTrained(t)
	if err := x.tr.Check(x.s); err != nil {
		t.Fatalf("Check on the training setup: %v", err)
	}
	if err := x.e2e.Check(x.s); err != nil {
		t.Fatalf("Check on the training setup: %v", err)
	}
	other := tinySetup()
	other.Design.W = append([]complex128(nil), other.Design.W...)
	other.Design.W[3] *= 1i
	bigger := randomSetup(t, 4, 4, 2, 1, 4, 2)
	fewer := tinySetup()
	fewer.Design.MB, fewer.Design.W = 3, fewer.Design.W[:tinyNB*3]
	for _, tc := range []struct {
		name, want string
		s          Setup
	}{
		{"combiner", "pilot design", other},
		{"arrays", "N_B=16", bigger},
		{"beams", "M_B=3", fewer},
	} {
		for _, m := range []interface{ Check(Setup) error }{x.tr, x.e2e} {
			if err := m.Check(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: Check = %v, want an error naming %q", tc.name, err, tc.want)
			}
		}
	}
	noisier := x.s
	noisier.Noise *= 10
	if err := x.tr.Check(noisier); err != nil {
		t.Errorf("another noise power is no mismatch: %v", err)
	}
}

// TestBadCheckpoints: every kind of broken checkpoint is an error, never a panic.
func TestBadCheckpoints(t *testing.T) {
	x := getTrained(t)
	copyDir := func(t *testing.T, src string) string {
		dst := t.TempDir()
		for _, name := range []string{configName, weightsName} {
			b, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dst
	}
	edit := func(name string, f func([]byte) []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, name)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f(b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte { return []byte(strings.Replace(string(b), old, new, 1)) }
	}
	for _, tc := range []struct {
		name, want string
		broken     func(t *testing.T, dir string)
	}{
		{"no config", "config.json", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, configName)) }},
		{"no weights", "weights.npz", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, weightsName)) }},
		{"bad json", "config.json", edit(configName, func(b []byte) []byte { return b[:len(b)/2] })},
		{"wrong kind", `"autoencoder"`, edit(configName, replace(`"kind": "tracker"`, `"kind": "autoencoder"`))},
		{"bad config", "training.tracker.lstm_hidden", edit(configName, replace(`"lstm_hidden": 32`, `"lstm_hidden": 0`))},
		{"config disagrees with weights", "want float32", edit(configName, replace(`"lstm_hidden": 32`, `"lstm_hidden": 16`))},
		{"bad normalisation", "normalisation", edit(configName, replace(`"log_alpha_std": `, `"log_alpha_std": -`))},
		{"latent mean of another size", "latent_mean has 1 entries", edit(configName, func(b []byte) []byte {
			return regexp.MustCompile(`"latent_mean": \[[^]]*\]`).ReplaceAll(b, []byte(`"latent_mean": [0]`))
		})},
		{"bad latent scale", "normalisation", edit(configName, replace(`"latent_scale": `, `"latent_scale": -`))},
		{"huge sizes", "training.tracker.lstm_hidden", edit(configName, replace(`"lstm_hidden": 32`, `"lstm_hidden": 100000000`))},
		{"truncated weights", "weights.npz", edit(weightsName, func(b []byte) []byte { return b[:len(b)-100] })},
		{"garbage weights", "weights.npz", edit(weightsName, func(b []byte) []byte { return []byte("not a zip") })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, x.trDir)
			tc.broken(t, dir)
			_, err := LoadTracker(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadTracker = %v, want an error naming %q", err, tc.want)
			}
		})
	}
	if _, err := LoadTracker(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing directory loaded")
	}
	if _, err := LoadE2E(x.trDir); err == nil || !strings.Contains(err.Error(), `"tracker"`) {
		t.Errorf("LoadE2E of a tracker = %v", err)
	}
	if _, err := LoadAutoencoder(x.eDir); err == nil {
		t.Error("LoadAutoencoder of an e2e checkpoint succeeded")
	}
}

// TestReproducible: one seed gives bit-identical weights; another seed other weights.
func TestReproducible(t *testing.T) {
	d := tinyData(3, 20, 1)
	cfg := tinyConfig()
	cfg.AE.Epochs = 3
	weights := func(seed uint64) params {
		cfg.Seed = seed
		a, err := TrainAutoencoder(context.Background(), d, cfg, t.TempDir(), quietLog(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return append(a.enc, a.dec...)
	}
	a, b, c := weights(5), weights(5), weights(6)
	same := func(x, y params) bool {
		for i := range x {
			for j := range x[i].data {
				if x[i].data[j] != y[i].data[j] {
					return false
				}
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("two trainings with one seed differ")
	}
	if same(a, c) {
		t.Error("two seeds gave the same weights")
	}
}

// TestInit: --init starts from a checkpoint's weights. At a negligible learning rate one epoch
// keeps them (within 1e-5: Adam's first steps move each weight by about lr) and the validation loss
// is the checkpoint's best; the config records where training started. A checkpoint of another
// kind or size, or the output directory itself, is an error.
func TestInit(t *testing.T) {
	x := getTrained(t)
	cfg := tinyConfig()
	cfg.Init, cfg.Tracker.Epochs, cfg.Tracker.LR = x.trDir, 1, 1e-9
	dir := t.TempDir()
	m, err := TrainTracker(context.Background(), x.d, x.ae, x.s, cfg, dir, quietLog(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range m.net {
		for j, w := range p.data {
			if d := math.Abs(float64(w - x.tr.net[i].data[j])); d > 1e-5 {
				t.Fatalf("weight %s[%d] moved by %g from the checkpoint it started from", p.name, j, d)
			}
		}
	}
	started, err := readCheckpoint(x.trDir, kindTracker)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := readCheckpoint(dir, kindTracker)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Config.Init != x.trDir {
		t.Errorf("config.json records init %q, want %q", meta.Config.Init, x.trDir)
	}
	if got, want := meta.Losses[0].Val, bestVal(started.Losses); math.Abs(got-want) > 1e-3*want {
		t.Errorf("validation loss after one epoch from the checkpoint %g, want its best %g", got, want)
	}

	for _, c := range []struct {
		name, init, out string
		change          func(*Config)
		want            string
	}{
		{"another kind", x.aeDir, t.TempDir(), func(*Config) {}, `holds a "autoencoder" model`},
		{"another size", x.trDir, t.TempDir(), func(c *Config) { c.Tracker.LSTMHidden = 16 }, "the config and the weights disagree"},
		{"the output directory", x.trDir, x.trDir, func(*Config) {}, "also the output directory"},
		{"missing", filepath.Join(t.TempDir(), "none"), t.TempDir(), func(*Config) {}, "no such file"},
	} {
		cfg := tinyConfig()
		cfg.Init, cfg.Tracker.Epochs = c.init, 1
		c.change(&cfg)
		_, err := TrainTracker(context.Background(), x.d, x.ae, x.s, cfg, c.out, quietLog(), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "init") {
			t.Errorf("%s: %v, want an error naming init and containing %q", c.name, err, c.want)
		}
	}
}

// TestCancel: a cancelled training stops with the context's error and leaves the best checkpoint
// written so far loadable.
func TestCancel(t *testing.T) {
	d := tinyData(3, 20, 1)
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	// The first finished epoch (logged after its checkpoint is written) cancels.
	log := slog.New(cancelHandler{cancel})
	_, err := TrainAutoencoder(ctx, d, tinyConfig(), dir, log, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("TrainAutoencoder after cancel = %v, want context.Canceled", err)
	}
	if _, err := LoadAutoencoder(dir); err != nil {
		t.Errorf("the checkpoint written before the cancel: %v", err)
	}
}

// cancelHandler cancels on the first log record.
type cancelHandler struct{ cancel context.CancelFunc }

func (h cancelHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelHandler) Handle(context.Context, slog.Record) error {
	h.cancel()
	return nil
}
func (h cancelHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelHandler) WithGroup(string) slog.Handler      { return h }

// TestNoValidationSplit: with ae.val_fraction 0 the autoencoder trains on every channel, records no
// validation loss and selects on the training loss (the paper's memorising protocol); the trackers
// still need a split.
func TestNoValidationSplit(t *testing.T) {
	cfg := tinyConfig()
	cfg.AE.Epochs, cfg.AE.ValFraction, cfg.AE.Patience = 4, 0, 4
	dir := t.TempDir()
	if _, err := TrainAutoencoder(context.Background(), tinyData(3, 20, 1), cfg, dir, quietLog(), nil); err != nil {
		t.Fatal(err)
	}
	meta, err := readCheckpoint(dir, kindAE)
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Losses) != 4 {
		t.Fatalf("%d epochs recorded, want 4", len(meta.Losses))
	}
	for _, e := range meta.Losses {
		if e.Val != 0 || e.criterion() != e.Train {
			t.Errorf("epoch %d: val %g, criterion %g; want no validation loss and the training loss %g", e.Epoch, e.Val, e.criterion(), e.Train)
		}
	}
	cfg.Tracker.ValFraction = 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "training.tracker.val_fraction") {
		t.Errorf("tracker.val_fraction 0: %v, want an error naming the key", err)
	}
}

func TestLRSchedule(t *testing.T) {
	for _, c := range []struct {
		schedule string
		epoch    int
		want     float64
	}{
		{LRConstant, 1, 1e-3}, {LRConstant, 40, 1e-3},
		{LRCosine, 1, 1e-3}, {LRCosine, 21, 0.5e-3}, {LRCosine, 40, 1e-3 * (1 + math.Cos(math.Pi*39/40)) / 2},
	} {
		f := fit{Epochs: 40, LR: 1e-3, Schedule: c.schedule}
		if got := f.lr(c.epoch); math.Abs(got-c.want) > 1e-15 { // a few float64 roundings of 1e-3
			t.Errorf("%s epoch %d: lr %g, want %g", c.schedule, c.epoch, got, c.want)
		}
	}
}

// TestRelativeLatentNoise checks latent_noise_relative: the loss with perturbation n equals the
// absolute-noise loss with n·RMS(z), z the batch's latents, and its gradient treats the RMS as a
// constant (so the encoder cannot shrink the noise by shrinking the latents).
func TestRelativeLatentNoise(t *testing.T) {
	b, err := backend()
	if err != nil {
		t.Fatal(err)
	}
	const nb, nu, batch = 4, 2, 5
	cfg := tinyConfig()
	rng := rand.New(rand.NewPCG(5, 5))
	abs := newAutoencoder(cfg, nb, nu, rng)
	cfg.AE.NoiseRelative = true
	rel := &Autoencoder{cfg: cfg, nb: nb, nu: nu, enc: abs.enc, dec: abs.dec}
	ws := append(abs.enc, abs.dec...)
	nw, lat := len(ws), cfg.AE.Latent
	exec, err := NewExec(b, func(in []*Node) []*Node {
		w, v, n, bstd := in[:nw], in[nw], in[nw+1], in[nw+2]
		z := mlp(&cursor{w[:len(abs.enc)]}, v, len(abs.enc)/2)
		scaled := Mul(n, Sqrt(ReduceAllMean(Square(z))))
		lr := rel.loss(cfg.AE.Lambda)(w, []*Node{v, n, bstd})
		la := abs.loss(cfg.AE.Lambda)(w, []*Node{v, StopGradient(scaled), bstd})
		return []*Node{lr, la, Gradient(lr, w[0])[0], Gradient(la, w[0])[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	pos := make([][3]float64, batch)
	idx := make([]int, batch)
	for i := range pos {
		pos[i], idx[i] = [3]float64{float64(i), float64(i * i), 0}, i
	}
	var in []any
	for _, w := range ws.tensors() {
		in = append(in, w)
	}
	in = append(in,
		tensors.FromFlatDataAndDimensions(randf32(rng, batch*2*nb*nu), batch, 2*nb*nu),
		tensors.FromFlatDataAndDimensions(randf32(rng, batch*lat), batch, lat),
		tensors.FromFlatDataAndDimensions(standardisedDistances(pos, idx), batch, batch))
	out, err := exec.Exec(in...)
	if err != nil {
		t.Fatal(err)
	}
	lr, la := scalar(out[0]), scalar(out[1])
	// The same float32 graph on both sides but for where the scaling happens: rounding only.
	if math.Abs(lr-la) > 1e-5*math.Abs(la) {
		t.Errorf("relative-noise loss %g, absolute loss with n·RMS(z) %g", lr, la)
	}
	gr, ga := tensors.MustCopyFlatData[float32](out[2]), tensors.MustCopyFlatData[float32](out[3])
	var size, diff float64
	for i := range ga {
		size, diff = max(size, math.Abs(float64(ga[i]))), max(diff, math.Abs(float64(gr[i]-ga[i])))
	}
	// Rounding gives ~1e-7 of the gradient's size; a gradient through the RMS moves it ~7e-3 here.
	if diff > 1e-5*size {
		t.Errorf("first encoder weight's gradients differ by up to %g (largest entry %g)", diff, size)
	}
}
