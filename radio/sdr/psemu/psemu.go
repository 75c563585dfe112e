// Package psemu emulates a whole over-the-air testbed for the SDR backend (radio/sdr): the BS and UE
// phase-shifter boards (radio/sdr/board/emu) on pseudo-terminals, the air between the arrays, and
// the receiving SDR's IQ stream on TCP. cmd/psemu runs it; tests run it in process. The host side
// talks to it exactly as to hardware: tarm/serial on the boards' device paths, iq.DialTCP on the
// stream.
//
// The air. The BS board is the trigger master, linked to the UE board. On every trigger the boards
// report the weights they actually apply in each slot k (injected per-element phase and gain errors
// included), w_k (BS) and f_k (UE), and the air forms each slot's gain
//
//	g_k = w_k^H H(t) f_k s_i,   i = the UE beam of slot k, s = beamforming.Pilots(M_U, P_tx),
//
// the simulated backend's signal model with H(t) the configured trajectory. The sweep is
// synthesised (pilot.Synthesize, sync blocks at phase 0: the emulated transmitter and receiver share
// a phase reference, so Y's phase is absolute) and impaired (pilot.Impair) with a random timing offset
// in [0, Margin] samples, the carrier frequency offset CFO, a random carrier phase and CN(0,
// Noise·PilotLen) per sample, so that after the correlator's processing gain of PilotLen, Y's noise
// per entry is Noise (rf.noise_dbm), as in the simulated backend. Each trigger yields one burst of
// Frame.Samples() + Margin samples on the IQ stream.
//
// Time. H(t) is sampled and held per coherence interval: a trigger that comes at least half an
// interval (Coherence) after the previous trigger starts the next interval, and the trajectory
// advances by the whole intervals elapsed since the current one began (at least one), walking
// forwards and back (simradio.PingPong). A daemon pacing intervals in real time at the same period
// therefore gets one channel per interval, its reference sweep included (as long as programming the
// sweep takes less than half an interval); triggers in quick succession see the same channel, as
// they would in the field.
package psemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/radio/sdr/board/emu"
	"github.com/cctrack/cctrack/radio/sdr/iq"
	"github.com/cctrack/cctrack/radio/sdr/pilot"
	"github.com/cctrack/cctrack/radio/simradio"
)

// Board is one emulated board's setup.
type Board struct {
	// Link, when not empty, is a symbolic link kept pointing at the board's pty (as udev's
	// /dev/serial/by-id links are); the host opens it as its serial port.
	Link string
	// Elements and PhaseBits must match the array and shifters the host expects; GainBits is the
	// gain-code width.
	Elements, PhaseBits, GainBits int
	// PhaseErrRad and GainErrDB are per-element errors (nil: none).
	PhaseErrRad, GainErrDB []float64
	Faults                 emu.Faults
}

// Outage disconnects a board when the air reaches a coherence interval, for a while.
type Outage struct {
	Board string // "bs" or "ue"; "" disables
	// AtInterval is the air's coherence interval (counted from 0) at whose start the board vanishes.
	AtInterval int
	For        time.Duration
}

// Config describes the emulated testbed.
type Config struct {
	BS, UE Board
	// Channels is H (N_B x N_U, row-major) along the trajectory, one per coherence interval.
	Channels [][]complex128
	// Coherence is the coherence interval (trajectories.interval_s).
	Coherence time.Duration
	// TxPower P_tx and Noise sigma^2 (W): the pilot power and Y's noise per entry.
	TxPower, Noise float64
	// Frame is the waveform (PreambleLen, PilotLen, Guard; the slot counts come from each sweep);
	// Margin the extra samples per burst, the largest timing offset.
	Frame  pilot.Frame
	Margin int
	// CFO is the carrier frequency offset (rad/sample).
	CFO float64
	// Seed seeds the noise, timing offsets and carrier phases.
	Seed uint64
	// IQ is where the IQ stream is served.
	IQ     net.Listener
	Outage Outage
}

// Devices are where the host finds the emulated testbed.
type Devices struct {
	BS, UE string // device paths (the links, or the ptys)
	IQ     string // the stream's address, HOST:PORT
}

// Run serves the testbed until ctx ends (then it returns nil). ready is called once both boards are
// up, with their paths and the IQ address, and again with the new path after a board reappears.
func Run(ctx context.Context, cfg Config, log *slog.Logger, ready func(Devices)) error {
	if err := cfg.check(); err != nil {
		cfg.IQ.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := newAir(ctx, cfg, log)
	bs := emu.New(emu.Config{ID: "psemu-bs", Elements: cfg.BS.Elements, PhaseBits: cfg.BS.PhaseBits, GainBits: cfg.BS.GainBits,
		Firmware: "psemu", PhaseErrRad: cfg.BS.PhaseErrRad, GainErrDB: cfg.BS.GainErrDB, Faults: cfg.BS.Faults, TemperatureC: 35})
	ue := emu.New(emu.Config{ID: "psemu-ue", Elements: cfg.UE.Elements, PhaseBits: cfg.UE.PhaseBits, GainBits: cfg.UE.GainBits,
		Firmware: "psemu", PhaseErrRad: cfg.UE.PhaseErrRad, GainErrDB: cfg.UE.GainErrDB, Faults: cfg.UE.Faults, TemperatureC: 30})
	bs.Link(ue)
	bs.OnTrigger(a.bsSweep)
	ue.OnTrigger(a.ueSweep)
	a.boards = map[string]*emu.Board{"bs": bs, "ue": ue}

	var (
		mu   sync.Mutex
		devs = Devices{IQ: cfg.IQ.Addr().String()}
		wg   sync.WaitGroup
		errs = make([]error, 3)
	)
	announce := func(set func(*Devices, string)) func(string) {
		return func(path string) {
			mu.Lock()
			set(&devs, path)
			d := devs
			mu.Unlock()
			if d.BS != "" && d.UE != "" && ready != nil {
				ready(d)
			}
		}
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		errs[0] = bs.ServePTY(ctx, cfg.BS.Link, announce(func(d *Devices, p string) { d.BS = p }))
		cancel()
	}()
	go func() {
		defer wg.Done()
		errs[1] = ue.ServePTY(ctx, cfg.UE.Link, announce(func(d *Devices, p string) { d.UE = p }))
		cancel()
	}()
	go func() {
		defer wg.Done()
		errs[2] = iq.ServeTCP(ctx, watched{cfg.IQ, a}, a.next, log)
		cancel()
	}()
	wg.Wait()
	a.wait()
	return errors.Join(errs...)
}

// check validates the configuration.
func (cfg Config) check() error {
	if len(cfg.Channels) == 0 {
		return errors.New("psemu: no channels")
	}
	for i, h := range cfg.Channels {
		if len(h) != cfg.BS.Elements*cfg.UE.Elements {
			return fmt.Errorf("psemu: channel %d has %d entries, want %d x %d", i, len(h), cfg.BS.Elements, cfg.UE.Elements)
		}
	}
	f := cfg.Frame
	f.MB, f.MU = 1, 1
	if err := f.Validate(); err != nil {
		return fmt.Errorf("psemu: %w", err)
	}
	if !(cfg.Coherence > 0) || !(cfg.TxPower > 0) || !(cfg.Noise >= 0) || cfg.Margin < 0 {
		return fmt.Errorf("psemu: want Coherence, TxPower > 0, Noise, Margin >= 0 (got %v, %g, %g, %d)", cfg.Coherence, cfg.TxPower, cfg.Noise, cfg.Margin)
	}
	return nil
}

// air turns each trigger's applied weights into one IQ burst.
type air struct {
	ctx    context.Context
	cfg    Config
	log    *slog.Logger
	rng    *rand.Rand
	boards map[string]*emu.Board
	bursts chan []complex64
	outage sync.WaitGroup

	// mu guards the rest. The BS board's trigger callback keeps its weights for the UE board's,
	// which the same trigger runs right after.
	mu      sync.Mutex
	gone    chan struct{} // closed when the current IQ client leaves
	bsW     [][]complex128
	bsBeams []uint16
	pending bool

	interval int       // the current coherence interval
	start    time.Time // its first trigger
	last     time.Time // the last trigger
	step     int       // trajectory step of the current interval
	y        []complex128
	sweep    []complex64
}

func newAir(ctx context.Context, cfg Config, log *slog.Logger) *air {
	// Bursts wait here for the IQ client; when it falls 8 sweeps behind, new ones are dropped (the
	// host's capture then times out, as with an SDR overflow).
	return &air{ctx: ctx, cfg: cfg, log: log, rng: rand.New(rand.NewPCG(cfg.Seed, 0x616972)), bursts: make(chan []complex64, 8), interval: -1}
}

// bsSweep keeps the BS board's applied weights (the slices are the board's: copy them).
func (a *air) bsSweep(s emu.Sweep) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bsW = grow2(a.bsW, len(s.Slots))
	for k, w := range s.Slots {
		a.bsW[k] = append(a.bsW[k][:0], w...)
	}
	a.bsBeams = append(a.bsBeams[:0], s.Beams...)
	a.pending = true
}

// ueSweep completes the trigger: it forms the slot gains and queues the burst.
func (a *air) ueSweep(s emu.Sweep) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.pending {
		return // the UE board was triggered on its own: the receiver is not listening
	}
	a.pending = false
	k := len(s.Slots)
	if len(a.bsW) != k {
		a.log.Warn("air: the boards' sweeps differ in length: no burst", "bs_slots", len(a.bsW), "ue_slots", k)
		return
	}
	mu := 0
	for _, b := range s.Beams {
		mu = max(mu, int(b)+1)
	}
	if k%mu != 0 {
		a.log.Warn("air: the sweep is not M_B x M_U slots: no burst", "slots", k, "ue_beams", mu)
		return
	}
	mb := k / mu
	if d := uint32(a.cfg.Frame.PilotLen + a.cfg.Frame.Guard); s.Dwell != d {
		a.log.Warn("air: the boards dwell differently from the frame's slot", "dwell", s.Dwell, "slot", d)
	}
	h := a.channel(time.Now())
	nb, nu := a.cfg.BS.Elements, a.cfg.UE.Elements
	pilots := beamforming.Pilots(mu, a.cfg.TxPower)
	a.y = growC(a.y, k)
	for slot := range k {
		// g = w^H H f s_i, with slot k at Y[k mod M_B, k div M_B] in Synthesize's layout.
		w, f := a.bsW[slot], s.Slots[slot]
		var g complex128
		for r := range nb {
			var hf complex128
			for c, x := range h[r*nu:][:nu] {
				hf += x * f[c]
			}
			g += complex(real(w[r]), -imag(w[r])) * hf
		}
		a.y[(slot%mb)*mu+slot/mb] = g * pilots[s.Beams[slot]]
	}
	fr := a.cfg.Frame
	fr.MB, fr.MU = mb, mu
	n := fr.Samples()
	if cap(a.sweep) < n {
		a.sweep = make([]complex64, n)
	}
	pilot.Synthesize(a.sweep[:n], fr, a.y)
	burst := make([]complex64, n+a.cfg.Margin)
	offset := a.rng.IntN(a.cfg.Margin + 1)
	phase := 2 * math.Pi * a.rng.Float64()
	pilot.Impair(burst, a.sweep[:n], offset, a.cfg.CFO, phase, a.cfg.Noise*float64(fr.PilotLen), a.rng)
	select {
	case a.bursts <- burst:
	default:
		a.log.Warn("air: IQ client behind: burst dropped")
	}
}

// channel is H at time now, advancing the coherence interval (see the package doc).
func (a *air) channel(now time.Time) []complex128 {
	gap := now.Sub(a.last)
	a.last = now
	switch {
	case a.interval < 0:
		a.interval, a.start = 0, now
		a.outageAt(0, 0)
	case gap >= a.cfg.Coherence/2:
		adv := max(1, int(math.Round(float64(now.Sub(a.start))/float64(a.cfg.Coherence))))
		a.interval += adv
		a.step += adv
		a.start = now
		a.outageAt(a.interval-adv+1, a.interval)
	}
	return a.cfg.Channels[simradio.PingPong(len(a.cfg.Channels), a.step)]
}

// outageAt starts the configured outage when its interval is in [from, to].
func (a *air) outageAt(from, to int) {
	o := a.cfg.Outage
	b := a.boards[o.Board]
	if b == nil || o.AtInterval < from || o.AtInterval > to {
		return
	}
	a.log.Info("air: board disconnected", "board", o.Board, "interval", o.AtInterval, "for", o.For)
	// Not from here: the trigger callback runs under the triggering board's lock.
	a.outage.Add(1)
	go func() {
		defer a.outage.Done()
		b.Disconnect()
		t := time.NewTimer(o.For)
		defer t.Stop()
		select {
		case <-a.ctx.Done():
		case <-t.C:
		}
		b.Reconnect()
		a.log.Info("air: board reconnected", "board", o.Board)
	}()
}

// watched is the IQ listener; it tells the air about each client (see air.connected).
type watched struct {
	net.Listener
	a *air
}

func (l watched) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.a.connected(c)
	return c, nil
}

// connected starts a client's stream. A receiver sends nothing, so a read ends only when the client
// goes away: then next ends the stream at once, so that the next burst goes to the next client
// instead of into a dead connection, and the bursts still queued for the departed client are
// dropped. (Not when the next client is accepted: it may have connected, and triggered, before the
// server got round to accepting it.)
func (a *air) connected(c net.Conn) {
	gone := make(chan struct{})
	a.mu.Lock()
	a.gone = gone
	a.mu.Unlock()
	go func() {
		var b [64]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				break
			}
		}
		a.mu.Lock()
		close(gone)
		for len(a.bursts) > 0 {
			<-a.bursts
		}
		a.mu.Unlock()
	}()
}

// next hands the IQ server the next burst for the current client.
func (a *air) next(ctx context.Context) ([]complex64, error) {
	a.mu.Lock()
	gone := a.gone
	a.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-gone:
		return nil, io.EOF
	case b := <-a.bursts:
		return b, nil
	}
}

// wait waits for an outage in progress to end (ctx is done by then).
func (a *air) wait() { a.outage.Wait() }

func grow2(s [][]complex128, n int) [][]complex128 {
	for len(s) < n {
		s = append(s, nil)
	}
	return s[:n]
}

func growC(s []complex128, n int) []complex128 {
	if cap(s) < n {
		return make([]complex128, n)
	}
	return s[:n]
}
