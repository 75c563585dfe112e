// Command cctrackd is the testbed daemon. It drives the simulated radio interval by interval along
// the configured evaluation trajectory; later stages add the estimators, NMSE telemetry and the
// hardware backend.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/cctrack/cctrack/configs"
)

func main() {
	cfgPath := flag.String("config", "", "configuration file (default: the embedded default.yaml)")
	intervals := flag.Int("intervals", -1, "stop after this many coherence intervals (default: the config's daemon.intervals; 0 runs until SIGINT/SIGTERM)")
	noTrain := flag.Bool("no-train", false, "never train a missing tracker/e2e model at start: a missing model is an error (estimators.auto_train: false)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	cfg, err := configs.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cctrackd:", err)
		os.Exit(2)
	}
	if *intervals >= 0 {
		cfg.Daemon.Intervals = *intervals
	}
	if *noTrain {
		cfg.Estimators.AutoTrain = false
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log, os.Stderr); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("cctrackd stopped", "err", err)
		os.Exit(1)
	}
}
