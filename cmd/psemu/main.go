// Command psemu emulates the over-the-air testbed of a configuration for the SDR backend: the BS and
// UE phase-shifter boards on pseudo-terminals (at radio.sdr.bs.port and radio.sdr.ue.port when
// those are set: symbolic links to the ptys), the air along the configuration's ray-traced
// evaluation trajectory, and the receiver's IQ stream on radio.sdr.iq (tcp://HOST:PORT). cctrackd
// and `cctrack record` run against it with the same configuration, exactly as against hardware.
//
//	psemu --config configs/ota-example.yaml [--drop 0.01] [--disconnect-at 50 --disconnect-for 3s]
//
// It prints the device paths ("bs PATH", "ue PATH", "iq tcp://ADDR") on stdout once the boards are
// up, and exits cleanly on SIGINT/SIGTERM.
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

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/radio/sdr"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
	"github.com/cctrack/cctrack/radio/sdr/psemu"
)

// options are psemu's command line.
type options struct {
	config                 string
	drop, corrupt          float64
	delay                  time.Duration
	faultSeed, seed        uint64
	gainStdDB, phaseStdDeg float64
	cfo                    float64
	outage                 psemu.Outage
}

func main() {
	var o options
	flag.StringVar(&o.config, "config", "", "configuration file (default: the embedded default.yaml)")
	flag.Float64Var(&o.drop, "drop", 0, "probability that a board request or its answer is lost")
	flag.Float64Var(&o.corrupt, "corrupt", 0, "probability that a board request or its answer has a flipped bit")
	flag.DurationVar(&o.delay, "delay", 0, "delay of every board answer")
	flag.Uint64Var(&o.faultSeed, "fault-seed", 1, "seed of the line faults (the UE board uses seed+1)")
	flag.Float64Var(&o.gainStdDB, "gain-std-db", math.NaN(), "per-element gain error spread in dB (default: beamforming.impairments.gain_std_db)")
	flag.Float64Var(&o.phaseStdDeg, "phase-std-deg", math.NaN(), "per-element phase error spread in degrees (default: beamforming.impairments.phase_std_deg)")
	flag.Float64Var(&o.cfo, "cfo", 2e-4, "carrier frequency offset, rad/sample")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the receiver noise, timing offsets and carrier phases")
	flag.StringVar(&o.outage.Board, "disconnect-board", "bs", "board that --disconnect-at unplugs: bs or ue")
	flag.IntVar(&o.outage.AtInterval, "disconnect-at", -1, "coherence interval (from 0) at which the board disappears; -1 never")
	flag.DurationVar(&o.outage.For, "disconnect-for", 3*time.Second, "how long the board stays away")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr, log); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "psemu:", err)
		os.Exit(1)
	}
}

// run traces the configuration's trajectory and serves the emulated testbed until ctx ends.
func run(ctx context.Context, o options, stdout, progressOut io.Writer, log *slog.Logger) error {
	cfg, err := configs.Load(o.config)
	if err != nil {
		return err
	}
	if o.outage.AtInterval < 0 {
		o.outage.Board = ""
	} else if o.outage.Board != "bs" && o.outage.Board != "ue" {
		return fmt.Errorf("--disconnect-board: want bs or ue (got %q)", o.outage.Board)
	}
	for _, x := range []struct {
		name string
		v    float64
	}{{"--drop", o.drop}, {"--corrupt", o.corrupt}} {
		if !(x.v >= 0 && x.v < 1) {
			return fmt.Errorf("%s: want a probability in [0, 1) (got %g)", x.name, x.v)
		}
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
	im := cfg.Beamforming.Impairments
	if !math.IsNaN(o.gainStdDB) {
		im.GainStdDB = o.gainStdDB
	}
	if !math.IsNaN(o.phaseStdDeg) {
		im.PhaseStdDeg = o.phaseStdDeg
	}
	if !(im.GainStdDB >= 0) || !(im.PhaseStdDeg >= 0) {
		ln.Close()
		return fmt.Errorf("--gain-std-db, --phase-std-deg: want spreads >= 0 (got %g, %g)", im.GainStdDB, im.PhaseStdDeg)
	}
	board := func(link string, n int, seed, faultSeed uint64) psemu.Board {
		// The simulated backend's impairments for the same config and seeds (cfg.Impairments).
		e := beamforming.NewImpairments(n, im.GainStdDB, im.PhaseStdDeg, im.InsertionLossDB, seed)
		b := psemu.Board{Link: link, Elements: n, PhaseBits: cfg.Beamforming.Bits, GainBits: 4, PhaseErrRad: e.Phase,
			Faults: emu.Faults{DropRate: o.drop, CorruptRate: o.corrupt, Delay: o.delay, Seed: faultSeed}}
		for _, g := range e.Gain {
			b.GainErrDB = append(b.GainErrDB, 20*math.Log10(g)-im.InsertionLossDB)
		}
		return b
	}
	ec := psemu.Config{
		BS:       board(cfg.Radio.SDR.BS.Port, cfg.BSArray().N(), im.Seed, o.faultSeed),
		UE:       board(cfg.Radio.SDR.UE.Port, cfg.UEArray().N(), im.Seed+1, o.faultSeed+1),
		Channels: chans, Coherence: cfg.IntervalPeriod(), TxPower: p.TxPower, Noise: p.Noise,
		Frame: p.Frame, Margin: p.Margin, CFO: o.cfo, Seed: o.seed, IQ: ln, Outage: o.outage,
	}
	log.Info("psemu starting", "config", cfg.Source, "array", cfg.BSArray().String()+"-"+cfg.UEArray().String(),
		"trajectory_steps", len(chans), "iq", "tcp://"+ln.Addr().String())
	return psemu.Run(ctx, ec, log, func(d psemu.Devices) {
		fmt.Fprintf(stdout, "bs %s\nue %s\niq tcp://%s\n", d.BS, d.UE, d.IQ)
	})
}
