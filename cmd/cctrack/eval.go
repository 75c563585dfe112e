package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/estimator/learned"
	"github.com/cctrack/cctrack/internal/atomicfile"
	"github.com/cctrack/cctrack/internal/controller"
	"github.com/cctrack/cctrack/internal/progress"
	"github.com/cctrack/cctrack/internal/telemetry"
	"github.com/cctrack/cctrack/radio/simradio"
	"github.com/cctrack/cctrack/sim"
	"github.com/cctrack/cctrack/sim/dataset"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/training"
)

// The checkpoint directories `cctrack eval --models DIR` looks for, each written by `cctrack train`:
//
//	DIR/ae             train ae             the autoencoder with the charting loss (Fig. 4)
//	DIR/ae_no_tc       train ae --no-tc     the autoencoder without it (lambda = 0)
//	DIR/tracker        train tracker --ae DIR/ae
//	DIR/tracker_no_tc  train tracker --ae DIR/ae_no_tc
//	DIR/e2e            train e2e            the end-to-end LSTM baseline
//
// The daemon's model cache (estimators.cache_dir/NAME-HASH) has the same layout.
const (
	modelAE          = "ae"
	modelAENoTC      = "ae_no_tc"
	modelTracker     = "tracker"
	modelTrackerNoTC = "tracker_no_tc"
	modelE2E         = "e2e"
)

// evalSummary is summary.json. Estimators holds exactly {"NAME": {"nmse_db": mean}} per estimator run
// (mean per estimator.Mean over the scored intervals).
type evalSummary struct {
	Estimators map[string]evalNMSE `json:"estimators"`
	Trajectory evalTrajectory      `json:"trajectory"`
	// Latent is, per autoencoder, how smooth its latent path is along the trajectory (Fig. 4).
	Latent map[string]latentPath `json:"latent,omitempty"`
}

type evalNMSE struct {
	NMSEdB float64 `json:"nmse_db"`
}

// evalTrajectory says which trajectory was evaluated and how far it is from the training positions.
type evalTrajectory struct {
	Kind      string `json:"kind"` // "evaluation" (the dataset's eval_H) or "heldout"
	About     string `json:"about"`
	Intervals int    `json:"intervals"`
	Scored    int    `json:"intervals_scored"`
	// Distances from each trajectory position to the nearest training position (m): the static
	// positions the autoencoder trains on (H) and the positions the trackers' training sequences
	// visit (the static ones with training.sequences: positions).
	MedianToStaticM float64 `json:"median_distance_to_static_m"`
	MaxToStaticM    float64 `json:"max_distance_to_static_m"`
	MedianToTrajM   float64 `json:"median_distance_to_training_trajectories_m"`
	MaxToTrajM      float64 `json:"max_distance_to_training_trajectories_m"`
}

// latentPath describes s(t) along the trajectory: Roughness = mean_t ||s(t+1) - s(t)|| /
// max_t ||s(t) - s(0)||, the typical step relative to how far the path gets (small: smooth).
// ReconstructionDB is the autoencoder alone on the true channels (f^-1(d(e(f(H)))) with the true
// alpha and beta, mean NMSE per estimator.Mean): the floor of the trackers that use its decoder.
type latentPath struct {
	Roughness        float64 `json:"roughness"`
	MaxDist          float64 `json:"max_distance"`
	ReconstructionDB float64 `json:"reconstruction_nmse_db"`
}

func evalCmd(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	fset := flag.NewFlagSet("cctrack eval", flag.ContinueOnError)
	fset.SetOutput(stderr)
	cfgPath := fset.String("config", "", "configuration file (default: the embedded default.yaml)")
	models := fset.String("models", "", "directory with the checkpoints ae/, ae_no_tc/, tracker/, tracker_no_tc/, e2e/ (those present are evaluated)")
	out := fset.String("out", "", "output directory (nmse.csv, summary.json, figures)")
	dsPath := fset.String("dataset", "", "the training dataset .npz (default: generated from the config in memory)")
	heldout := fset.String("heldout", "", "DX,DY: evaluate the evaluation walk moved by (DX, DY) m, off the training positions, instead of the dataset's (traced here)")
	memoryless := fset.Bool("memoryless", false, "also run every learned model with its LSTM state reset before each interval (NAME_memoryless): what tracking across intervals adds")
	if err := fset.Parse(args); err != nil {
		return errUsage
	}
	if *models == "" || *out == "" || fset.NArg() > 0 {
		fmt.Fprintln(stderr, "cctrack eval: --models and --out are required")
		fset.Usage()
		return errUsage
	}
	var shift *geom.Vec3
	if *heldout != "" {
		var dx, dy float64
		if n, err := fmt.Sscanf(*heldout, "%g,%g", &dx, &dy); n != 2 || err != nil {
			fmt.Fprintf(stderr, "cctrack eval: --heldout: want DX,DY in metres (got %q)\n", *heldout)
			return errUsage
		}
		shift = &geom.Vec3{X: dx, Y: dy}
	}
	cfg, err := configs.Load(*cfgPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("eval: --out: %w", err)
	}
	ev := &evaluation{cfg: cfg, log: log, stderr: stderr, memoryless: *memoryless}
	if err := ev.loadData(ctx, *dsPath); err != nil {
		return err
	}
	if err := ev.trajectory(ctx, shift); err != nil {
		return err
	}
	if err := ev.loadModels(*models); err != nil {
		return err
	}
	sum, err := ev.run(ctx)
	if err != nil {
		return err
	}
	return ev.write(*out, sum)
}

// evaluation is one `cctrack eval` run.
type evaluation struct {
	cfg    configs.Config
	log    *slog.Logger
	stderr io.Writer
	sim    *sim.Simulator
	// memoryless adds each learned model reset before every interval
	memoryless bool

	data        *training.Data
	chans       [][]complex128 // H along the evaluated trajectory
	traj        evalTrajectory
	aes         map[string]*training.Autoencoder
	trackers    map[string]learned.Model
	nmse        map[string][]float64 // per estimator, per interval (dB; NaN when not scored)
	names       []string             // estimators in the order they ran
	latent      map[string][]float64 // per autoencoder, ||s(t) - s(0)|| (NaN without a channel)
	latentStats map[string]latentPath
}

// simulator builds the config's simulator on first use (generation and the held-out walk only).
func (ev *evaluation) simulator() (*sim.Simulator, error) {
	if ev.sim == nil {
		s, err := ev.cfg.NewSimulator(ev.log)
		if err != nil {
			return nil, err
		}
		ev.sim = s
	}
	return ev.sim, nil
}

// loadData reads the dataset the models were trained on, or generates it from the config as
// `cctrack sim dataset` would (same spec, same seeds, so the same data).
func (ev *evaluation) loadData(ctx context.Context, path string) error {
	nb, nu := ev.cfg.BSArray().N(), ev.cfg.UEArray().N()
	if path != "" {
		d, err := training.ReadDataset(path)
		if err != nil {
			return fmt.Errorf("eval: --dataset: %w", err)
		}
		if d.NB != nb || d.NU != nu {
			return fmt.Errorf("eval: --dataset: %s holds %d x %d channels, the config's arrays are %d x %d", path, d.NB, d.NU, nb, nu)
		}
		ev.data = d
		return nil
	}
	s, err := ev.simulator()
	if err != nil {
		return err
	}
	d, err := generateDataset(ctx, ev.cfg, s, ev.stderr)
	if err != nil {
		return err
	}
	ev.data = training.FromDataset(d)
	return nil
}

// generateDataset traces the config's dataset (cfg.DatasetSpec) in memory with a progress bar.
func generateDataset(ctx context.Context, cfg configs.Config, s *sim.Simulator, progressOut io.Writer) (*dataset.Dataset, error) {
	var bar *progress.Bar
	d, err := dataset.Generate(ctx, s, cfg.DatasetSpec(),
		func(n int) { bar = progress.New(progressOut, n, "tracing dataset") },
		func(done int) { bar.Set(done) })
	if bar != nil {
		bar.Finish()
	}
	return d, err
}

// trajectory picks the channels to evaluate: the dataset's evaluation walk or, with a shift, the
// same walk through the trajectories.evaluation waypoints moved by it, traced here. Moved off the
// street lattice the random training walks follow and off the autoencoder's grid, its positions are
// in no training set, unlike those of the dataset's walk (the paper's protocol); how far they are
// from the nearest training positions is measured either way.
func (ev *evaluation) trajectory(ctx context.Context, shift *geom.Vec3) error {
	var pos []geom.Vec3
	if shift == nil {
		if len(ev.data.Eval) == 0 {
			return errors.New("eval: the dataset has no evaluation trajectory (eval_H): set trajectories.evaluation")
		}
		ev.chans = ev.data.Eval
		pos = vecs(ev.data.EvalPos)
		ev.traj = evalTrajectory{Kind: "evaluation", About: "the dataset's evaluation walk (eval_H, trajectories.evaluation)"}
	} else {
		spec := ev.cfg.DatasetSpec()
		if len(spec.Evaluation) == 0 {
			return errors.New("eval: --heldout moves the trajectories.evaluation waypoints, and the config has none")
		}
		for i := range spec.Evaluation {
			spec.Evaluation[i] = spec.Evaluation[i].Add(*shift)
		}
		spec.Count = 0
		s, err := ev.simulator()
		if err != nil {
			return err
		}
		_, eval, err := dataset.Trajectories(ctx, s, spec)
		if err != nil {
			return fmt.Errorf("eval: held-out trajectory: %w", err)
		}
		pos = eval
		bar := progress.New(ev.stderr, len(pos), "tracing held-out trajectory")
		ev.chans, err = simradio.Trajectory(ctx, s, pos, bar.Set)
		bar.Finish()
		if err != nil {
			return fmt.Errorf("eval: held-out trajectory: %w", err)
		}
		ev.traj = evalTrajectory{Kind: "heldout", About: fmt.Sprintf(
			"the trajectories.evaluation walk moved by (%g, %g) m, traced for this run: not in the dataset", shift.X, shift.Y)}
	}
	ev.traj.Intervals = len(ev.chans)
	ev.traj.MedianToStaticM, ev.traj.MaxToStaticM = nearestStats(pos, vecs(ev.data.Pos))
	seqPos := slices.Concat(ev.data.TrajPos...)
	if ev.cfg.Training.Sequences == training.SequencesPositions { // the trackers walked the autoencoder's positions
		seqPos = ev.data.Pos
		if ev.cfg.Training.AE.IncludeEval {
			seqPos = slices.Concat(ev.data.Pos, ev.data.EvalPos)
		}
	}
	ev.traj.MedianToTrajM, ev.traj.MaxToTrajM = nearestStats(pos, vecs(seqPos))
	ev.log.Info("evaluation trajectory", "kind", ev.traj.Kind, "intervals", len(ev.chans),
		"median_distance_to_static_m", ev.traj.MedianToStaticM, "median_distance_to_training_trajectories_m", ev.traj.MedianToTrajM)
	return nil
}

func vecs(ps [][3]float64) []geom.Vec3 {
	out := make([]geom.Vec3, len(ps))
	for i, p := range ps {
		out[i] = geom.V(p[0], p[1], p[2])
	}
	return out
}

// nearestStats is the median and the maximum over pos of the distance to the nearest of ref (NaN
// when ref is empty). Brute force: the datasets hold at most tens of thousands of positions.
func nearestStats(pos, ref []geom.Vec3) (median, max float64) {
	if len(ref) == 0 || len(pos) == 0 {
		return math.NaN(), math.NaN()
	}
	d := make([]float64, len(pos))
	for i, p := range pos {
		best := math.Inf(1)
		for _, r := range ref {
			best = math.Min(best, p.Sub(r).Norm2())
		}
		d[i] = math.Sqrt(best)
	}
	slices.Sort(d)
	return d[len(d)/2], d[len(d)-1]
}

// loadModels loads the checkpoints present under dir; a missing one (or one whose first epoch has
// not finished, a training in progress) is logged and skipped, a broken one is an error.
func (ev *evaluation) loadModels(dir string) error {
	ev.aes, ev.trackers = map[string]*training.Autoencoder{}, map[string]learned.Model{}
	var missing []string
	for _, name := range []string{modelAE, modelAENoTC, modelTracker, modelTrackerNoTC, modelE2E} {
		p := filepath.Join(dir, name)
		ok, err := training.HasCheckpoint(p)
		if err != nil {
			return fmt.Errorf("eval: --models: %w", err)
		}
		if !ok {
			missing = append(missing, name)
			continue
		}
		switch name {
		case modelAE, modelAENoTC:
			ev.aes[name], err = training.LoadAutoencoder(p)
		case modelTracker, modelTrackerNoTC:
			ev.trackers[name], err = training.LoadTracker(p)
		case modelE2E:
			ev.trackers[name], err = training.LoadE2E(p)
		}
		if err != nil {
			return fmt.Errorf("eval: --models: %w", err)
		}
	}
	if len(missing) > 0 {
		ev.log.Warn("eval: models missing, not evaluated", "dir", dir, "missing", strings.Join(missing, ","))
	}
	return nil
}

// run sends the trajectory through the testbed loop (simulated radio with the config's noise and
// impairments, the controller) with every estimator at once, so all see the same Y, then encodes the
// true channels with each autoencoder for the latent-distance figure.
func (ev *evaluation) run(ctx context.Context) (evalSummary, error) {
	cfg := ev.cfg
	nb, nu := cfg.BSArray().N(), cfg.UEArray().N()
	cov, err := estimator.EstimateCovariance(nb, nu, ev.data.H)
	if err != nil {
		return evalSummary{}, fmt.Errorf("eval: lmmse covariance: %w", err)
	}
	omp, err := estimator.NewOMP(cfg.OMPConfig())
	if err != nil {
		return evalSummary{}, fmt.Errorf("estimators.omp: %w", err)
	}
	ests := []estimator.Estimator{estimator.NewLS(), estimator.NewLMMSE(cov), omp}
	var forgetful []estimator.Estimator // after all the others, in the same order
	for _, name := range []string{modelTracker, modelTrackerNoTC, modelE2E} {
		if m, ok := ev.trackers[name]; ok {
			ests = append(ests, learned.New(name, m))
			if ev.memoryless {
				forgetful = append(forgetful, memorylessModel{learned.New(name+"_memoryless", m)})
			}
		}
	}
	ests = append(ests, forgetful...)
	tx, noise := cfg.Powers()
	bsImp, ueImp := cfg.Impairments()
	r, err := simradio.New(simradio.Params{Scene: cfg.Name, BS: cfg.BSArray(), UE: cfg.UEArray(), PhaseShifter: cfg.PhaseShifter(),
		TxPower: tx, Noise: noise, BSImp: bsImp, UEImp: ueImp, Channels: ev.chans, Seed: cfg.Radio.Seed})
	if err != nil {
		return evalSummary{}, err
	}
	setup, err := cfg.Setup()
	if err != nil {
		return evalSummary{}, err
	}
	sink := &nmseSink{nmse: map[string][]float64{}, n: len(ev.chans)}
	ctl, err := controller.New(r, ests, sink, controller.Config{Run: "eval-" + cfg.Name, Setup: setup, Intervals: len(ev.chans)}, ev.log)
	if err != nil {
		return evalSummary{}, err
	}
	if err := ctl.Run(ctx); err != nil {
		return evalSummary{}, err
	}
	if err := ctx.Err(); err != nil {
		return evalSummary{}, err
	}
	st := ctl.Status()
	sum := evalSummary{Estimators: map[string]evalNMSE{}, Trajectory: ev.traj}
	sum.Trajectory.Scored = st.Intervals - st.NoNMSE
	ev.nmse = sink.nmse
	for _, e := range st.Estimators {
		if e.Failed > 0 {
			return evalSummary{}, fmt.Errorf("eval: %s failed in %d intervals (%s)", e.Name, e.Failed, st.LastError)
		}
		ev.names = append(ev.names, e.Name)
		sum.Estimators[e.Name] = evalNMSE{NMSEdB: e.MeanNMSEdB}
		ev.log.Info("eval", "estimator", e.Name, "nmse_db", fmt.Sprintf("%.2f", e.MeanNMSEdB), "latency_us", fmt.Sprintf("%.0f", e.MeanLatencyUs))
	}
	if err := ev.latentPaths(); err != nil {
		return evalSummary{}, err
	}
	if len(ev.latentStats) > 0 {
		sum.Latent = ev.latentStats
	}
	for name, l := range ev.latentStats {
		ev.log.Info("eval: the autoencoder alone (true alpha, beta)", "autoencoder", name, "nmse_db", fmt.Sprintf("%.2f", l.ReconstructionDB))
	}
	return sum, nil
}

// memorylessModel is a learned model reset before every interval: each estimate from that
// interval's pilots alone, the model's memory of the earlier ones taken away.
type memorylessModel struct{ *learned.Estimator }

func (m memorylessModel) Estimate(dst, y []complex128) error {
	m.Reset()
	return m.Estimator.Estimate(dst, y)
}

// nmseSink keeps the controller's per-interval NMSE points.
type nmseSink struct {
	nmse map[string][]float64
	n    int
}

func (s *nmseSink) Add(points ...telemetry.Point) {
	for _, p := range points {
		if p.Measurement != "nmse" {
			continue
		}
		var name string
		for _, t := range p.Tags {
			if t.Key == "estimator" {
				name = t.Value
			}
		}
		var i int64 = -1
		db := math.NaN()
		for _, f := range p.Fields {
			switch f.Key {
			case "interval":
				i, _ = f.Value.(int64)
			case "nmse_db":
				db, _ = f.Value.(float64)
			}
		}
		v := s.nmse[name]
		if v == nil {
			v = make([]float64, s.n)
			for k := range v {
				v[k] = math.NaN()
			}
			s.nmse[name] = v
		}
		if i >= 0 && int(i) < s.n {
			v[i] = db
		}
	}
}

// latentPaths encodes the true channels along the trajectory with each autoencoder present:
// ||s(t) - s(0)|| (paper Fig. 4), from the first interval with a channel, and reconstructs them.
func (ev *evaluation) latentPaths() error {
	ev.latent, ev.latentStats = map[string][]float64{}, map[string]latentPath{}
	for _, name := range []string{modelAE, modelAENoTC} {
		ae, ok := ev.aes[name]
		if !ok {
			continue
		}
		dist := make([]float64, len(ev.chans))
		var s0, prev, s []float32
		var steps, maxD float64
		var nsteps int
		var recon estimator.Mean
		hhat := make([]complex128, len(ev.chans[0]))
		for t, h := range ev.chans {
			dist[t] = math.NaN()
			if isZero(h) { // no path: nothing to encode
				prev = nil
				continue
			}
			s = make([]float32, ae.Latent())
			if _, _, err := ae.Encode(h, s); err != nil {
				return fmt.Errorf("eval: %s: encode interval %d: %w", name, t, err)
			}
			if err := ae.Reconstruct(h, hhat); err != nil {
				return fmt.Errorf("eval: %s: reconstruct interval %d: %w", name, t, err)
			}
			recon.Add(estimator.NMSE(h, hhat))
			if s0 == nil {
				s0 = s
			}
			dist[t] = l2(s, s0)
			maxD = math.Max(maxD, dist[t])
			if prev != nil {
				steps += l2(s, prev)
				nsteps++
			}
			prev = s
		}
		ev.latent[name] = dist
		if nsteps > 0 && maxD > 0 {
			ev.latentStats[name] = latentPath{Roughness: steps / float64(nsteps) / maxD, MaxDist: maxD, ReconstructionDB: recon.DB()}
		}
	}
	return nil
}

func isZero(h []complex128) bool {
	for _, x := range h {
		if x != 0 {
			return false
		}
	}
	return true
}

func l2(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// write puts nmse.csv, latent.csv, summary.json and the figures into dir.
func (ev *evaluation) write(dir string, sum evalSummary) error {
	rows := [][]string{{"interval", "estimator", "nmse_db"}}
	for t := range ev.chans {
		for _, name := range ev.names {
			if db := ev.nmse[name][t]; !math.IsNaN(db) {
				rows = append(rows, []string{strconv.Itoa(t), name, strconv.FormatFloat(db, 'f', 4, 64)})
			}
		}
	}
	if err := writeCSV(filepath.Join(dir, "nmse.csv"), rows); err != nil {
		return err
	}
	js, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("eval: summary: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, "summary.json"), func(w io.Writer) error {
		_, err := w.Write(append(js, '\n'))
		return err
	}); err != nil {
		return err
	}

	dt := ev.cfg.Trajectories.IntervalS
	times := make([]float64, len(ev.chans))
	for t := range times {
		times[t] = float64(t) * dt
	}
	kind := ""
	if ev.traj.Kind == "heldout" {
		kind = " (held-out trajectory)"
	}
	var curves []series
	for _, name := range ev.names {
		curves = append(curves, series{name: name, x: times, y: ev.nmse[name]})
	}
	nmsePath := filepath.Join(dir, "nmse-"+ev.cfg.Name+".png")
	if err := lineFigure(nmsePath, fmt.Sprintf("%s: channel estimation NMSE over time%s", ev.cfg.Name, kind),
		"time (s)", "NMSE (dB)", curves); err != nil {
		return err
	}
	written := []string{"nmse.csv", "summary.json", filepath.Base(nmsePath)}
	if len(ev.latent) > 0 {
		rows := [][]string{{"interval", "model", "distance", "normalised"}}
		curves = curves[:0]
		for _, name := range []string{modelAE, modelAENoTC} {
			dist, ok := ev.latent[name]
			if !ok {
				continue
			}
			maxD := ev.latentStats[name].MaxDist
			norm := make([]float64, len(dist))
			for t, d := range dist {
				norm[t] = d / maxD
				if !math.IsNaN(d) {
					rows = append(rows, []string{strconv.Itoa(t), name, strconv.FormatFloat(d, 'g', 6, 64), strconv.FormatFloat(norm[t], 'f', 5, 64)})
				}
			}
			label := "with charting loss (ae)"
			if name == modelAENoTC {
				label = "without charting loss (ae_no_tc)"
			}
			curves = append(curves, series{name: label, x: times, y: norm})
		}
		if err := writeCSV(filepath.Join(dir, "latent.csv"), rows); err != nil {
			return err
		}
		latentPath := filepath.Join(dir, "latent-"+ev.cfg.Name+".png")
		if err := lineFigure(latentPath, fmt.Sprintf("%s: latent distance ||s(t) - s(0)|| over time%s", ev.cfg.Name, kind),
			"time (s)", "normalised latent distance", curves); err != nil {
			return err
		}
		written = append(written, "latent.csv", filepath.Base(latentPath))
	}
	ev.log.Info("eval written", "dir", dir, "files", strings.Join(written, ","))
	return nil
}

func writeCSV(path string, rows [][]string) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.WriteAll(rows); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}
