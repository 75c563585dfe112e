package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/internal/progress"
	"github.com/cctrack/cctrack/sim/dataset"
)

// run drives the simulator one coherence interval at a time until ctx ends or the configured number
// of intervals is done. A cancelled context is a clean stop. Progress bars go to progressOut.
func run(ctx context.Context, cfg configs.Config, log *slog.Logger, progressOut io.Writer) error {
	s, err := cfg.NewSimulator(log)
	if err != nil {
		return err
	}
	spec := cfg.DatasetSpec()
	if len(spec.Evaluation) == 0 {
		spec.Count = 1
	} else {
		spec.Count = 0
	}
	random, eval, err := dataset.Trajectories(ctx, s, spec)
	if err != nil {
		return err
	}
	traj := eval
	if traj == nil {
		traj = random[0]
	}
	log.Info("cctrackd started", "bs", fmt.Sprintf("%dx%d", s.BS.Nh, s.BS.Nv), "ue", fmt.Sprintf("%dx%d", s.UE.Nh, s.UE.Nv),
		"trajectory_steps", len(traj), "intervals", cfg.Daemon.Intervals, "realtime", cfg.Daemon.Realtime)

	// The BS is fixed and the trajectory known, so trace it once; each interval then only forms H.
	bar := progress.New(progressOut, len(traj), "tracing trajectory")
	trajPaths, err := s.Paths(ctx, traj, bar.Set)
	bar.Finish()
	if err != nil {
		return err
	}
	h := make([]complex128, s.BS.N()*s.UE.N())
	every := time.Duration(cfg.Daemon.SummaryEveryS * float64(time.Second))
	lastSummary := time.Now()
	var done, noPath int
	var gainSum float64
	meanGainDB := func() float64 { return 10 * math.Log10(gainSum/float64(max(done-noPath, 1))) }
	var tick <-chan time.Time
	if cfg.Daemon.Realtime {
		t := time.NewTicker(time.Duration(cfg.Trajectories.IntervalS * float64(time.Second)))
		defer t.Stop()
		tick = t.C
	}
	for cfg.Daemon.Intervals == 0 || done < cfg.Daemon.Intervals {
		if tick != nil {
			select {
			case <-ctx.Done():
			case <-tick:
			}
		}
		if err := ctx.Err(); err != nil {
			break
		}
		k := pingPong(len(traj), done)
		s.Channel(trajPaths[k], traj[k], h)
		if g := frobenius2(h); g > 0 {
			gainSum += g / float64(len(h))
		} else {
			noPath++
		}
		done++
		if time.Since(lastSummary) >= every {
			lastSummary = time.Now()
			log.Info("summary", "intervals", done, "no_path", noPath, "mean_channel_gain_db", meanGainDB())
		}
	}
	log.Info("cctrackd stopped cleanly", "intervals", done, "no_path", noPath, "mean_channel_gain_db", meanGainDB())
	return nil
}

// pingPong is the trajectory index of interval i when walking n samples forwards then backwards,
// so that a daemon running longer than the trajectory keeps a continuous path.
func pingPong(n, i int) int {
	if n == 1 {
		return 0
	}
	k := i % (2 * (n - 1))
	if k >= n {
		k = 2*(n-1) - k
	}
	return k
}

// frobenius2 is ||h||_F^2.
func frobenius2(h []complex128) float64 {
	var s float64
	for _, x := range h {
		s += real(x)*real(x) + imag(x)*imag(x)
	}
	return s
}
