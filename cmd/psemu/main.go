// Command psemu emulates the over-the-air testbed of a configuration for the SDR backend: the BS and
// UE phase-shifter boards on pseudo-terminals (at radio.sdr.bs.port and radio.sdr.ue.port when
// those are set: symbolic links to the ptys), the air along the configuration's ray-traced
// evaluation trajectory, and the receiver's IQ stream on radio.sdr.iq (tcp://HOST:PORT). cctrackd
// and `cctrack record` run against it with the same configuration, exactly as against hardware.
//
//	psemu --config configs/ota-example.yaml [--drop 0.01] [--disconnect-at 50 --disconnect-for 3s]
//
// It prints the device paths ("bs PATH", "ue PATH", "iq tcp://ADDR") on stdout once the boards are
// up (again when a board reappears), and exits cleanly on SIGINT/SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/radio/sdr"
	"github.com/cctrack/cctrack/radio/sdr/psemu"
)

func main() {
	var o psemu.Options
	config := flag.String("config", "", "configuration file (default: the embedded default.yaml)")
	flag.Float64Var(&o.Drop, "drop", 0, "probability that a board request or its answer is lost")
	flag.Float64Var(&o.Corrupt, "corrupt", 0, "probability that a board request or its answer has a flipped bit")
	flag.DurationVar(&o.Delay, "delay", 0, "delay of every board answer")
	flag.Uint64Var(&o.FaultSeed, "fault-seed", 1, "seed of the line faults (the UE board uses seed+1)")
	flag.Float64Var(&o.GainStdDB, "gain-std-db", math.NaN(), "per-element gain error spread in dB (default: beamforming.impairments.gain_std_db)")
	flag.Float64Var(&o.PhaseStdDeg, "phase-std-deg", math.NaN(), "per-element phase error spread in degrees (default: beamforming.impairments.phase_std_deg)")
	flag.Float64Var(&o.CFO, "cfo", 2e-4, "carrier frequency offset, rad/sample")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed of the receiver noise, timing offsets and carrier phases")
	flag.StringVar(&o.Outage.Board, "disconnect-board", "bs", "board that --disconnect-at unplugs: bs or ue")
	flag.IntVar(&o.Outage.AtInterval, "disconnect-at", -1, "coherence interval (from 0) at which the board disappears; -1 never")
	flag.DurationVar(&o.Outage.For, "disconnect-for", 3*time.Second, "how long the board stays away")
	flag.Parse()
	if o.Outage.AtInterval < 0 {
		o.Outage.Board = ""
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *config, o, os.Stdout, os.Stderr, log); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "psemu:", err)
		os.Exit(1)
	}
}

// run traces the configuration's trajectory and serves the emulated testbed until ctx ends.
func run(ctx context.Context, config string, o psemu.Options, stdout, progressOut io.Writer, log *slog.Logger) error {
	cfg, err := configs.Load(config)
	if err != nil {
		return err
	}
	p, err := cfg.SDRParams(cfg.Name)
	if err != nil {
		return err
	}
	if p.IQ.Kind != sdr.IQTCP {
		return fmt.Errorf("radio.sdr.iq: psemu serves a TCP stream: want tcp://HOST:PORT (got %q)", cfg.Radio.SDR.IQ)
	}
	s, err := cfg.NewSimulator(log)
	if err != nil {
		return err
	}
	chans, err := cfg.EvaluationChannels(ctx, s, progressOut)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", p.IQ.Addr)
	if err != nil {
		return fmt.Errorf("radio.sdr.iq: %w", err)
	}
	ec, err := cfg.Emulator(chans, ln, o)
	if err != nil {
		ln.Close()
		return err
	}
	log.Info("psemu starting", "config", cfg.Source, "array", cfg.BSArray().String()+"-"+cfg.UEArray().String(),
		"trajectory_steps", len(chans), "iq", "tcp://"+ln.Addr().String())
	return psemu.Run(ctx, ec, log, func(d psemu.Devices) {
		fmt.Fprintf(stdout, "bs %s\nue %s\niq tcp://%s\n", d.BS, d.UE, d.IQ)
	})
}
