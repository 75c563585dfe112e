package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/internal/atomicfile"
	"github.com/cctrack/cctrack/internal/progress"
	"github.com/cctrack/cctrack/sim"
	"github.com/cctrack/cctrack/sim/dataset"
	"github.com/cctrack/cctrack/sim/heatmap"
)

// configFlags parses --config and --out for the config-driven sim commands; extra adds flags of
// the command's own.
func configFlags(name string, args []string, stderr io.Writer, outHelp string, extra func(*flag.FlagSet)) (cfg configs.Config, out string, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default.yaml)")
	outPath := fs.String("out", "", outHelp)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, "", errUsage
	}
	if *outPath == "" {
		fmt.Fprintf(stderr, "%s: --out is required\n", name)
		fs.Usage()
		return cfg, "", errUsage
	}
	if err := atomicfile.CheckDir(*outPath); err != nil {
		return cfg, "", err
	}
	cfg, err = configs.Load(*cfgPath)
	return cfg, *outPath, err
}

func simDataset(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	var shard string
	cfg, out, err := configFlags("cctrack sim dataset", args, stderr, "output .npz file", func(fs *flag.FlagSet) {
		fs.StringVar(&shard, "shard", "", "generate shard I/N of the dataset (merge with cctrack sim merge)")
	})
	if err != nil {
		return err
	}
	spec := cfg.DatasetSpec()
	if shard != "" {
		if _, err := fmt.Sscanf(shard, "%d/%d", &spec.Shard, &spec.Shards); err != nil || spec.Shards < 1 ||
			spec.Shard < 0 || spec.Shard >= spec.Shards || fmt.Sprintf("%d/%d", spec.Shard, spec.Shards) != shard {
			fmt.Fprintf(stderr, "cctrack sim dataset: --shard: want I/N with 0 <= I < N, got %q\n", shard)
			return errUsage
		}
	}
	s, err := cfg.NewSimulator(log)
	if err != nil {
		return err
	}
	var bar *progress.Bar
	d, err := dataset.Generate(ctx, s, spec,
		func(n int) { bar = progress.New(stderr, n, "tracing") },
		func(done int) { bar.Set(done) })
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if err := atomicfile.Write(out, func(w io.Writer) error { return d.WriteNPZ(w, cfg.Text) }); err != nil {
		return err
	}
	log.Info("dataset written", "out", out, "positions", d.K, "dropped_no_path", d.DroppedNoPath,
		"trajectories", d.N, "steps", d.T, "trajectory_samples_no_path", d.TrajNoPath, "evaluation", d.EvalPos != nil, "shard", shard)
	return nil
}

func simMerge(args []string, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("cctrack sim merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output .npz file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: cctrack sim merge --out FILE.npz SHARD.npz...")
		return errUsage
	}
	var shards []*dataset.Shard
	for _, p := range fs.Args() {
		s, err := dataset.ReadShard(p)
		if err != nil {
			return fmt.Errorf("read shard: %w", err)
		}
		shards = append(shards, s)
	}
	d, config, err := dataset.Merge(shards)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(*out, func(w io.Writer) error { return d.WriteNPZ(w, config) }); err != nil {
		return err
	}
	log.Info("dataset merged", "out", *out, "shards", len(shards), "positions", d.K, "trajectories", d.N)
	return nil
}

func simHeatmap(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	cfg, out, err := configFlags("cctrack sim heatmap", args, stderr, "output .png or .svg file", nil)
	if err != nil {
		return err
	}
	if _, err := heatmap.Format(out); err != nil {
		return err
	}
	s, err := cfg.NewSimulator(log)
	if err != nil {
		return err
	}
	spec := cfg.DatasetSpec()
	grid := cfg.HeatmapGrid()
	pts := grid.Points()
	bar := progress.New(stderr, len(pts), "tracing")
	paths, err := s.Paths(ctx, pts, bar.Set)
	bar.Finish()
	if err != nil {
		return err
	}
	spec.Count = 0 // the figure shows the evaluation trajectory only
	_, eval, err := dataset.Trajectories(ctx, s, spec)
	if err != nil {
		return err
	}
	m := heatmap.Map{
		Title:  fmt.Sprintf("%s: path gain from the BS (dB)", cfg.Name),
		Origin: grid.Origin, Rows: grid.Rows, Cols: grid.Cols, Spacing: grid.Spacing,
		GainDB:     make([]float64, len(pts)),
		Footprints: heatmap.Footprints(s.Scene, 1),
		Trajectory: eval,
		BS:         s.BS.Position,
	}
	for i := range pts {
		m.GainDB[i] = sim.PathGainDB(paths[i])
	}
	if err := m.Render(out); err != nil {
		return err
	}
	log.Info("heatmap written", "out", out, "receivers", len(pts))
	return nil
}
