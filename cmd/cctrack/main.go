// Command cctrack is the tool CLI: simulation (sim paths, sim dataset, sim heatmap); training,
// evaluation and calibration come with their packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: cctrack <command> [flags]

commands:
  sim paths    trace paths between a transmitter and receivers, JSON lines out
  sim dataset  generate a training/evaluation dataset (.npz) from a config (--shard I/N for one part)
  sim merge    merge dataset shards into the dataset a single run would write
  sim heatmap  render the path-gain map of a config's user grid (.png/.svg)
  train        train a model: train ae|tracker|e2e --config F --dataset F.npz --out DIR [--ae DIR] [--no-tc]
  eval         NMSE of LS, LMMSE, OMP and the trained trackers along a trajectory: --config F --models DIR --out DIR
  calibrate    measure an array's per-element phase/gain errors: --config F --array bs|ue --method rev|pilot --out F.json
  record       record a trial over the air (radio.backend: sdr) as SigMF: --config F --intervals N --out BASE

Run "cctrack sim <command> -h" for its flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, log); err != nil {
		switch {
		case errors.Is(err, context.Canceled):
			os.Exit(130)
		case errors.Is(err, errUsage): // the usage has been printed
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "cctrack:", err)
		os.Exit(1)
	}
}

// errUsage reports bad command lines; the message has been printed already.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	if len(args) > 0 && args[0] == "calibrate" {
		return calibrate(ctx, args[1:], stderr, log)
	}
	if len(args) > 0 && args[0] == "record" {
		return record(ctx, args[1:], stderr, log)
	}
	if len(args) > 0 && args[0] == "train" {
		return train(ctx, args[1:], stderr, log)
	}
	if len(args) > 0 && args[0] == "eval" {
		return evalCmd(ctx, args[1:], stderr, log)
	}
	if len(args) < 2 || args[0] != "sim" {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[1] {
	case "paths":
		return simPaths(ctx, args[2:], stdout, stderr)
	case "dataset":
		return simDataset(ctx, args[2:], stderr, log)
	case "merge":
		return simMerge(args[2:], stderr, log)
	case "heatmap":
		return simHeatmap(ctx, args[2:], stderr, log)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q: %w", "sim "+args[1], errUsage)
	}
}
