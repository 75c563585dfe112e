package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"image/color"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/internal/influxtest"
	"github.com/cctrack/cctrack/internal/progress"
)

// soakSample is one measurement of the test process (the daemon runs in it).
type soakSample struct {
	at         time.Duration
	heapMiB    float64 // live heap after a GC (runtime.MemStats.HeapAlloc)
	rssMiB     float64 // resident set size (/proc/self/statm)
	goroutines int
}

// Soak bounds, applied to the steady state: the samples after the first tenth of the run (start-up: the
// trajectory and covariance traced, InfluxDB's first shards, the spool's first segments). The last quarter's
// mean may exceed the first quarter's by the slack stated: a leak of a few hundred bytes per interval at
// thousands of intervals a second would be gigabytes over 30 minutes, far beyond either.
const (
	soakHeapGrowth      = 1.25 // last-quarter mean heap <= 1.25 x first-quarter mean + 8 MiB
	soakHeapSlackMiB    = 8
	soakRSSGrowth       = 1.25 // same for RSS, + 32 MiB (the Go runtime returns memory to the OS lazily)
	soakRSSSlackMiB     = 32
	soakGoroutineSpread = 10 // max - min goroutines in the steady state
)

// TestSoak runs the daemon at full speed (daemon.realtime false) on the simulated backend with the
// embedded default configuration (estimators ls, lmmse and omp) into a real InfluxDB through the spool, for CCTRACK_SOAK (a duration),
// sampling heap, RSS and goroutines every 10 s into soak.csv and soak.png under CCTRACK_SOAK_OUT (default a
// new directory in the system's temporary directory). It fails if memory or goroutines grow beyond the
// bounds above. The file sink is off: at full speed it would write gigabytes. Not part of CI:
//
//	CCTRACK_SOAK=30m nice -n 10 go test ./cmd/cctrackd -run Soak -v -timeout 40m
func TestSoak(t *testing.T) {
	env := os.Getenv("CCTRACK_SOAK")
	if env == "" {
		t.Skip("soak benchmark: set CCTRACK_SOAK to a duration (e.g. 30m) to run it")
	}
	dur, err := time.ParseDuration(env)
	if err != nil || dur < time.Minute {
		t.Fatalf("CCTRACK_SOAK=%q: want a duration of at least 1m", env)
	}
	out := os.Getenv("CCTRACK_SOAK_OUT")
	if out == "" {
		if out, err = os.MkdirTemp("", "cctrack-soak-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := influxtest.Start(t, influxtest.WithoutFlux())
	cfg, err := configs.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Daemon.Intervals, cfg.Daemon.Realtime, cfg.Daemon.StatusAddr = 0, false, ""
	// The classical estimators: the learned ones train for minutes at start, which is not what this measures.
	cfg.Estimators.Run = []string{"ls", "lmmse", "omp"}
	cfg.Telemetry.File.Dir = ""
	cfg.Telemetry.InfluxDB.URL, cfg.Telemetry.InfluxDB.Bucket = srv.URL, srv.Bucket()
	cfg.Telemetry.Buffer.BatchSize = 5000
	cfg.Telemetry.Spool.Dir = filepath.Join(out, "spool")
	logf, err := os.Create(filepath.Join(out, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	t.Logf("soak for %v; daemon log, samples and plot in %s", dur, out)

	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logf, nil)), os.Stderr) }()
	var samples []soakSample
	start := time.Now()
	bar := progress.New(os.Stderr, int(dur/time.Second), "soak")
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			running = false
		case <-tick.C:
			samples = append(samples, sample(t, time.Since(start)))
			bar.Set(int(time.Since(start) / time.Second))
		}
	}
	bar.Finish()
	if err := writeSoak(out, samples); err != nil {
		t.Fatal(err)
	}
	logText, _ := os.ReadFile(logf.Name())
	if i := strings.LastIndex(string(logText), "cctrackd stopped cleanly"); i >= 0 {
		t.Logf("%s", strings.TrimSpace(string(logText[i:])))
	}
	n := srv.Query(`SELECT count(nmse_db) FROM nmse`)
	if len(n) == 1 && len(n[0].Values) == 1 {
		t.Logf("nmse points in InfluxDB: %v", n[0].Values[0][1])
	}
	checkSoak(t, samples)
}

// sample measures the process after a GC, so that the heap is the live heap.
func sample(t *testing.T, at time.Duration) soakSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := soakSample{at: at, heapMiB: float64(ms.HeapAlloc) / (1 << 20), goroutines: runtime.NumGoroutine()}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseFloat(f[1], 64)
			s.rssMiB = pages * float64(os.Getpagesize()) / (1 << 20)
		}
	}
	t.Logf("%6.0fs heap %.1f MiB, RSS %.1f MiB, %d goroutines", at.Seconds(), s.heapMiB, s.rssMiB, s.goroutines)
	return s
}

// checkSoak applies the bounds to the steady-state samples.
func checkSoak(t *testing.T, samples []soakSample) {
	steady := samples[len(samples)/10:]
	if len(steady) < 4 {
		t.Fatalf("%d steady-state samples, too few to judge (run at least a minute)", len(steady))
	}
	q := len(steady) / 4
	mean := func(s []soakSample, f func(soakSample) float64) float64 {
		var sum float64
		for _, x := range s {
			sum += f(x)
		}
		return sum / float64(len(s))
	}
	heap := func(s soakSample) float64 { return s.heapMiB }
	rss := func(s soakSample) float64 { return s.rssMiB }
	h0, h1 := mean(steady[:q], heap), mean(steady[len(steady)-q:], heap)
	r0, r1 := mean(steady[:q], rss), mean(steady[len(steady)-q:], rss)
	gmin, gmax := steady[0].goroutines, steady[0].goroutines
	for _, s := range steady {
		gmin, gmax = min(gmin, s.goroutines), max(gmax, s.goroutines)
	}
	t.Logf("steady state: heap %.1f -> %.1f MiB, RSS %.1f -> %.1f MiB (first vs last quarter means), goroutines %d..%d",
		h0, h1, r0, r1, gmin, gmax)
	if h1 > soakHeapGrowth*h0+soakHeapSlackMiB {
		t.Errorf("heap grew from %.1f to %.1f MiB", h0, h1)
	}
	if r1 > soakRSSGrowth*r0+soakRSSSlackMiB {
		t.Errorf("RSS grew from %.1f to %.1f MiB", r0, r1)
	}
	if gmax-gmin > soakGoroutineSpread {
		t.Errorf("goroutines ranged %d..%d", gmin, gmax)
	}
}

// writeSoak writes soak.csv and soak.png (memory and goroutines against time) into dir.
func writeSoak(dir string, samples []soakSample) error {
	f, err := os.Create(filepath.Join(dir, "soak.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"seconds", "heap_mib", "rss_mib", "goroutines"})
	mem, rss, gor := make(plotter.XYs, len(samples)), make(plotter.XYs, len(samples)), make(plotter.XYs, len(samples))
	for i, s := range samples {
		min := s.at.Minutes()
		w.Write([]string{fmt.Sprintf("%.0f", s.at.Seconds()), fmt.Sprintf("%.2f", s.heapMiB), fmt.Sprintf("%.2f", s.rssMiB), strconv.Itoa(s.goroutines)})
		mem[i], rss[i], gor[i] = plotter.XY{X: min, Y: s.heapMiB}, plotter.XY{X: min, Y: s.rssMiB}, plotter.XY{X: min, Y: float64(s.goroutines)}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}

	pm := plot.New()
	pm.Title.Text = "cctrackd soak: memory"
	pm.X.Label.Text, pm.Y.Label.Text = "minutes", "MiB"
	pm.Y.Min = 0
	pg := plot.New()
	pg.Title.Text = "goroutines"
	pg.X.Label.Text = "minutes"
	pg.Y.Min = 0
	for _, l := range []struct {
		p    *plot.Plot
		xy   plotter.XYs
		name string
		c    color.RGBA
	}{
		{pm, mem, "live heap", color.RGBA{B: 200, A: 255}},
		{pm, rss, "RSS", color.RGBA{R: 200, A: 255}},
		{pg, gor, "goroutines", color.RGBA{G: 140, A: 255}},
	} {
		line, err := plotter.NewLine(l.xy)
		if err != nil {
			return err
		}
		line.Color = l.c
		l.p.Add(line)
		l.p.Legend.Add(l.name, line)
	}
	img := vgimg.New(12*vg.Inch, 4*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4}
	plots := [][]*plot.Plot{{pm, pg}}
	canvases := plot.Align(plots, tiles, dc)
	pm.Draw(canvases[0][0])
	pg.Draw(canvases[0][1])
	pf, err := os.Create(filepath.Join(dir, "soak.png"))
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(pf); err != nil {
		pf.Close()
		return err
	}
	return pf.Close()
}
