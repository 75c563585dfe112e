package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cctrack/cctrack/configs"
)

// BenchmarkDaemon is the main job end to end, one op per coherence interval: the embedded default
// testbed (built-in city, simulated radio, M_B M_U = 96, LS + LMMSE + OMP, file sink) run as fast as
// it goes, with the 10x10 BS of the defaults and a 20x20 one. Building it (ray tracing, covariance)
// is outside the timer; it reports intervals/s.
func BenchmarkDaemon(b *testing.B) {
	for _, n := range []int{10, 20} {
		b.Run(fmt.Sprintf("%dx%d", n, n), func(b *testing.B) {
			cfg, err := configs.Load("")
			if err != nil {
				b.Fatal(err)
			}
			cfg.BS.Array.Nh, cfg.BS.Array.Nv = n, n
			cfg.Estimators.Run = []string{"ls", "lmmse", "omp"}
			cfg.Daemon.Realtime = false
			cfg.Telemetry.File.Dir = b.TempDir()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			ctx := context.Background()
			tb, err := newTestbed(ctx, cfg, log, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			defer tb.close(ctx, time.Minute, log)
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if err := tb.ctl.Step(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "intervals/s")
		})
	}
}
