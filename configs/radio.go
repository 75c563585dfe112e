package configs

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/internal/progress"
	"github.com/cctrack/cctrack/radio/sdr"
	"github.com/cctrack/cctrack/radio/sdr/board"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
	"github.com/cctrack/cctrack/radio/sdr/pilot"
	"github.com/cctrack/cctrack/radio/sdr/psemu"
	"github.com/cctrack/cctrack/radio/simradio"
	"github.com/cctrack/cctrack/sim"
	"github.com/cctrack/cctrack/sim/dataset"
)

// Radio backends radio.backend may name.
const (
	BackendSim    = "sim"
	BackendSDR    = "sdr"
	BackendReplay = "replay"
)

// Backends lists the values of radio.backend.
var Backends = []string{BackendSim, BackendSDR, BackendReplay}

// SDR is the radio.sdr section: the hardware backend's two phase-shifter boards, its IQ source and
// the sweep waveform.
type SDR struct {
	BS         Board   `mapstructure:"bs"`
	UE         Board   `mapstructure:"ue"`
	IQ         string  `mapstructure:"iq"`
	SampleRate float64 `mapstructure:"sample_rate"`
	Frame      Frame   `mapstructure:"frame"`
	Margin     int     `mapstructure:"margin"`
}

// Board is one phase-shifter board's serial link.
type Board struct {
	Port    string        `mapstructure:"port"`
	Baud    int           `mapstructure:"baud"`
	Timeout time.Duration `mapstructure:"timeout"`
	Retries int           `mapstructure:"retries"`
}

// Frame is the sweep waveform's shape; the slot count comes from the beamforming section.
type Frame struct {
	PreambleLen int `mapstructure:"preamble_len"`
	PilotLen    int `mapstructure:"pilot_len"`
	Guard       int `mapstructure:"guard"`
}

// Replay is the radio.replay section.
type Replay struct {
	Path string `mapstructure:"path"`
}

// SDRParams converts the radio.sdr section (and the arrays, shifters and powers) into the hardware
// backend's parameters; scene names the testbed in telemetry.
func (c Config) SDRParams(scene string) (sdr.Params, error) {
	s := c.Radio.SDR
	q, err := sdr.ParseIQ(s.IQ, s.SampleRate)
	if err != nil {
		return sdr.Params{}, fmt.Errorf("radio.sdr.iq: %w", err)
	}
	if q.Kind == sdr.IQSigMF {
		q.Addr = c.Resolve(q.Addr)
	}
	q.Frequency = c.RF.CarrierHz
	tx, noise := c.Powers()
	link := func(name string, b Board) board.Config {
		return board.Config{Name: name, Port: b.Port, Baud: b.Baud, Timeout: b.Timeout, Retries: b.Retries}
	}
	return sdr.Params{
		Scene: scene, BS: c.BSArray(), UE: c.UEArray(), PhaseShifter: c.PhaseShifter(), TxPower: tx, Noise: noise,
		BSBoard: link("bs", s.BS), UEBoard: link("ue", s.UE), IQ: q, Frame: c.PilotFrame(1, 1), Margin: s.Margin,
	}, nil
}

// PilotFrame is the sweep waveform of radio.sdr.frame for mb x mu slots.
func (c Config) PilotFrame(mb, mu int) pilot.Frame {
	f := c.Radio.SDR.Frame
	return pilot.Frame{MB: mb, MU: mu, PreambleLen: f.PreambleLen, PilotLen: f.PilotLen, Guard: f.Guard}
}

// EvaluationChannels is H along the evaluation trajectory (N_B x N_U per step): radio.dataset's
// eval_H, or traced in the scene (progress bar on progressOut). The simulated backend walks it, and
// so does the emulator's air (cmd/psemu).
func (c Config) EvaluationChannels(ctx context.Context, s *sim.Simulator, progressOut io.Writer) ([][]complex128, error) {
	if p := c.Resolve(c.Radio.Dataset); p != "" {
		chans, err := simradio.Dataset(p, s.BS.N(), s.UE.N())
		if err != nil {
			return nil, fmt.Errorf("radio.dataset: %w", err)
		}
		return chans, nil
	}
	spec := c.DatasetSpec()
	spec.Count = 0
	if len(spec.Evaluation) == 0 {
		spec.Count = 1
	}
	random, eval, err := dataset.Trajectories(ctx, s, spec)
	if err != nil {
		return nil, err
	}
	traj := eval
	if traj == nil {
		traj = random[0]
	}
	// The BS is fixed and the trajectory known, so trace it once; each interval then only forms Y.
	bar := progress.New(progressOut, len(traj), "tracing trajectory")
	defer bar.Finish()
	return simradio.Trajectory(ctx, s, traj, bar.Set)
}

// ReplayPath is radio.replay.path resolved against the config file.
func (c Config) ReplayPath() string { return c.Resolve(c.Radio.Replay.Path) }

// validateRadio checks the radio section; the sdr and replay sections only when selected.
func (c Config) validateRadio(v *validator) {
	r := c.Radio
	if !slices.Contains(Backends, r.Backend) {
		v.fail("radio.backend", "must be %s (got %q)", strings.Join(Backends, ", "), r.Backend)
	}
	v.file("radio.dataset", c.Resolve(r.Dataset))
	switch r.Backend {
	case BackendSDR:
		for _, b := range []struct {
			key string
			b   Board
		}{{"radio.sdr.bs", r.SDR.BS}, {"radio.sdr.ue", r.SDR.UE}} {
			v.nonEmpty(b.key+".port", b.b.Port)
			v.positiveInt(b.key+".baud", b.b.Baud)
			if b.b.Timeout <= 0 {
				v.fail(b.key+".timeout", "must be > 0 (got %v)", b.b.Timeout)
			}
			if b.b.Retries < 0 {
				v.fail(b.key+".retries", "must be >= 0 (got %d)", b.b.Retries)
			}
		}
		if r.SDR.BS.Port != "" && r.SDR.BS.Port == r.SDR.UE.Port {
			v.fail("radio.sdr.ue.port", "is radio.sdr.bs.port too (%s): each board needs its own port", r.SDR.BS.Port)
		}
		if q, err := sdr.ParseIQ(r.SDR.IQ, r.SDR.SampleRate); err != nil {
			v.fail("radio.sdr.iq", "%v", err)
		} else if q.Kind == sdr.IQSigMF {
			v.file("radio.sdr.iq", c.Resolve(q.Addr))
		}
		v.positive("radio.sdr.sample_rate", r.SDR.SampleRate)
		if err := c.PilotFrame(1, 1).Validate(); err != nil {
			v.fail("radio.sdr.frame", "%v", err)
		}
		if r.SDR.Margin < 0 {
			v.fail("radio.sdr.margin", "must be >= 0 (got %d)", r.SDR.Margin)
		}
	case BackendReplay:
		v.nonEmpty("radio.replay.path", r.Replay.Path)
		v.file("radio.replay.path", c.ReplayPath())
	}
}

// Emulator is the emulated testbed (cmd/psemu) the configuration describes, as the SDR backend will see it: boards with
// the arrays' element counts and beamforming.bits at radio.sdr.bs.port and radio.sdr.ue.port (links),
// the per-element errors the simulated backend would apply for the same beamforming.impairments
// (same seeds: Impairments), rf.tx_power_dbm and rf.noise_dbm, the radio.sdr frame and
// margin, and chans (EvaluationChannels) walked at trajectories.interval_s. The IQ
// stream is served on ln.
func (c Config) Emulator(chans [][]complex128, ln net.Listener, o psemu.Options) (psemu.Config, error) {
	for _, x := range []struct {
		name string
		v    float64
	}{{"drop", o.Drop}, {"corrupt", o.Corrupt}} {
		if !(x.v >= 0 && x.v < 1) {
			return psemu.Config{}, fmt.Errorf("%s: want a probability in [0, 1) (got %g)", x.name, x.v)
		}
	}
	if b := o.Outage.Board; b != "" && b != "bs" && b != "ue" {
		return psemu.Config{}, fmt.Errorf("psemu outage: board %q, want bs or ue", b)
	}
	im := c.Beamforming.Impairments
	if !math.IsNaN(o.GainStdDB) {
		im.GainStdDB = o.GainStdDB
	}
	if !math.IsNaN(o.PhaseStdDeg) {
		im.PhaseStdDeg = o.PhaseStdDeg
	}
	if !(im.GainStdDB >= 0) || !(im.PhaseStdDeg >= 0) || math.IsInf(im.GainStdDB, 0) || math.IsInf(im.PhaseStdDeg, 0) {
		return psemu.Config{}, fmt.Errorf("psemu: per-element error spreads must be finite and >= 0 (got %g dB, %g deg)", im.GainStdDB, im.PhaseStdDeg)
	}
	board := func(link string, n int, seed, faultSeed uint64) psemu.Board {
		e := beamforming.NewImpairments(n, im.GainStdDB, im.PhaseStdDeg, im.InsertionLossDB, seed)
		b := psemu.Board{Link: link, Elements: n, PhaseBits: c.Beamforming.Bits, GainBits: 4, PhaseErrRad: e.Phase,
			Faults: emu.Faults{DropRate: o.Drop, CorruptRate: o.Corrupt, Delay: o.Delay, Seed: faultSeed}}
		for _, g := range e.Gain {
			// The board's gain error carries the common insertion loss too.
			b.GainErrDB = append(b.GainErrDB, 20*math.Log10(g)-im.InsertionLossDB)
		}
		return b
	}
	tx, noise := c.Powers()
	s := c.Radio.SDR
	return psemu.Config{
		BS:       board(s.BS.Port, c.BSArray().N(), im.Seed, o.FaultSeed),
		UE:       board(s.UE.Port, c.UEArray().N(), im.Seed+1, o.FaultSeed+1),
		Channels: chans, Coherence: c.IntervalPeriod(), TxPower: tx, Noise: noise,
		Frame: c.PilotFrame(1, 1), Margin: s.Margin, CFO: o.CFO, Seed: o.Seed, IQ: ln, Outage: o.Outage,
	}, nil
}
