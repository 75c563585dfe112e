package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/sdr"
	"github.com/cctrack/cctrack/radio/sdr/replay"
	"github.com/cctrack/cctrack/radio/simradio"
	"github.com/cctrack/cctrack/sim"
)

// backend is the radio radio.backend selects, with what the daemon needs to know about it.
type backend struct {
	radio.Radio
	// steps is the simulated trajectory's length (0 for hardware and replays).
	steps int
	// intervals, when > 0, is how many intervals the backend can serve: a replay's recording.
	intervals int
}

// newRadio builds the backend: the simulated radio along the evaluation trajectory, the hardware
// (boards on serial ports and an IQ source), or a replay of a recording.
func newRadio(ctx context.Context, cfg configs.Config, s *sim.Simulator, log *slog.Logger, progressOut io.Writer) (backend, error) {
	tx, noise := cfg.Powers()
	switch cfg.Radio.Backend {
	case configs.BackendSDR:
		p, err := cfg.SDRParams(cfg.Name)
		if err != nil {
			return backend{}, err
		}
		r, err := sdr.New(ctx, p, log)
		if err != nil {
			return backend{}, fmt.Errorf("radio.sdr: %w", err)
		}
		return backend{Radio: r}, nil
	case configs.BackendReplay:
		r, err := replay.Open(cfg.ReplayPath(), replay.Params{Scene: cfg.Name, BS: cfg.BSArray(), UE: cfg.UEArray(),
			PhaseShifter: cfg.PhaseShifter(), TxPower: tx, Noise: noise})
		if err != nil {
			return backend{}, fmt.Errorf("radio.replay.path: %w", err)
		}
		log.Info("replaying", "recording", cfg.ReplayPath(), "intervals", r.Intervals(), "calls", r.Events())
		return backend{Radio: r, intervals: r.Intervals()}, nil
	}
	chans, err := cfg.EvaluationChannels(ctx, s, progressOut)
	if err != nil {
		return backend{}, err
	}
	bsImp, ueImp := cfg.Impairments()
	r, err := simradio.New(simradio.Params{
		Scene: s.Scene.Name, BS: cfg.BSArray(), UE: cfg.UEArray(), PhaseShifter: cfg.PhaseShifter(),
		TxPower: tx, Noise: noise, BSImp: bsImp, UEImp: ueImp, Channels: chans, Seed: cfg.Radio.Seed,
	})
	if err != nil {
		return backend{}, err
	}
	return backend{Radio: r, steps: len(chans)}, nil
}
