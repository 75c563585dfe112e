// Package sdr is the hardware backend of radio.Radio: two phase-shifter boards on serial ports
// (radio/sdr/board) and one receive channel of an SDR (radio/sdr/iq), turned into the observation Y
// by the pilot correlator (radio/sdr/pilot).
//
// One capture is one pilot sweep of M_B·M_U slots. Program loads the beam tables — W's columns into
// the BS board, F's columns into the UE board — and arms both boards with the slot order
// k = i·M_B + j (UE beam i, BS beam j). Capture triggers the BS board, which starts the SDR's
// capture and, over the shared trigger line, the UE board's sweep; it reads one window of
// Frame.Samples() + Margin samples and correlates it into
//
//	Y[j,i] = w_j^H H f_i s_i + n_ji   (M_B x M_U, row-major),
//
// the simulated backend's Y, so every estimator runs unchanged. The transmitter sends the pilot
// symbols s = beamforming.Pilots(M_U, P_tx) (Zadoff–Chu at the configured power); Program refuses
// other pilots, since Y would not match them. Hardware does not know H: Capture.Truth stays nil and
// the controller's reference sweeps give the NMSE.
//
// The IQ source delivers one burst of samples per trigger (the SDR's timed capture starts on the
// trigger line). After a failed capture the burst may be partly read or still in flight, so before
// the next capture a live source (TCP, SoapySDR) is drained until it stays silent for QuietGap (and
// reopened if its stream broke), and the boards are programmed again (a board that was unplugged may
// come back empty). A failed Capture therefore costs one interval; the backend resumes by itself
// when the boards and the source answer again. Calibration is not applied here: calibration.Wrap
// corrects the codes of any radio.Radio.
//
// Two limits for real hardware. The correlator references Y's phase to the sweep's sync blocks
// (radio/sdr/pilot): the regular sweep and the reference sweep share a phase only if the sync
// blocks travel over the same path in both (cmd/psemu sends them phase-referenced, as over a
// cable). And iq.SoapySource streams continuously, so with it (build tag soapysdr) a window is not
// aligned to its trigger: live SDRs need their capture started by the trigger line, which is not
// implemented yet.
package sdr

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/cmplx"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/sdr/board"
	"github.com/cctrack/cctrack/radio/sdr/iq"
	"github.com/cctrack/cctrack/radio/sdr/pilot"
)

// Params describe the hardware testbed.
type Params struct {
	Scene        string // for Info
	BS, UE       radio.Array
	PhaseShifter beamforming.PhaseShifter
	// TxPower P_tx and Noise sigma^2 (W): the configured values the estimators assume.
	TxPower, Noise float64
	// BSBoard and UEBoard are the boards' serial links; the BS board is the trigger master.
	BSBoard, UEBoard board.Config
	IQ               IQ
	// Frame is the sweep waveform's shape (PreambleLen, PilotLen, Guard); Program sets its slot
	// counts MB and MU.
	Frame pilot.Frame
	// Margin is how many samples beyond Frame.Samples() a capture reads: the largest timing offset
	// between the trigger and the start of the burst that the correlator can still find.
	Margin int
	// Record, when not nil, gets every Program and Capture call's outcome, with the captured window
	// (before correlation); an error from it fails the call. Recorder writes them to SigMF, which
	// radio/sdr/replay plays back.
	Record func(Event) error
}

// Schedule is what one Program or Capture call did: enough for a replay to check that it is asked
// for the same thing, to give the same outcome, and to correlate the window again.
type Schedule struct {
	// Event is "program" or "capture"; Seq counts events from 0.
	Event string `json:"event"`
	Seq   int    `json:"seq"`
	// Capture counts the radio's successful captures from 0 (Capture.Interval).
	Capture int `json:"capture"`
	// NB, MB, NU, MU are the combiner's and precoder's shapes.
	NB int `json:"n_b"`
	MB int `json:"m_b"`
	NU int `json:"n_u"`
	MU int `json:"m_u"`
	// Setup is the digest of the programmed codes and pilots (SetupDigest).
	Setup string `json:"setup"`
	// PreambleLen, PilotLen and Guard are the waveform's; Margin the extra samples read.
	PreambleLen int `json:"preamble_len"`
	PilotLen    int `json:"pilot_len"`
	Guard       int `json:"guard"`
	Margin      int `json:"margin"`
	// Error is the call's error, "" when it succeeded.
	Error string `json:"error,omitempty"`
}

// Event is one recorded call: its schedule and, for a successful capture, the window.
type Event struct {
	Schedule
	Samples []complex64
}

// Event kinds.
const (
	EventProgram = "program"
	EventCapture = "capture"
)

// Frame is the pilot frame the schedule describes.
func (s Schedule) Frame() pilot.Frame {
	return pilot.Frame{MB: s.MB, MU: s.MU, PilotLen: s.PilotLen, Guard: s.Guard, PreambleLen: s.PreambleLen}
}

// Window is the number of samples captured per sweep: the frame plus the margin.
func (s Schedule) Window() int { return s.Frame().Samples() + s.Margin }

// SetupDigest is a SHA-256 digest (hex, 128 bits) of a setup's shapes, codes and pilots: two setups
// with the same digest program the same sweep.
func SetupDigest(s radio.Setup) string {
	h := sha256.New()
	var b [8]byte
	for _, n := range []int{s.W.N, s.W.M, s.F.N, s.F.M, len(s.Pilots)} {
		binary.LittleEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	for _, codes := range [][]uint16{s.W.Code, s.F.Code} {
		for _, c := range codes {
			binary.LittleEndian.PutUint16(b[:2], c)
			h.Write(b[:2])
		}
	}
	for _, p := range s.Pilots {
		for _, x := range []float64{real(p), imag(p)} {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// CheckPilots returns an error unless pilots are beamforming.Pilots(len(pilots), txPower), the
// symbols the transmitter sends, to 1e-9 relative (float64 round-off of the same formula).
func CheckPilots(pilots []complex128, txPower float64) error {
	want := beamforming.Pilots(max(len(pilots), 1), txPower)
	for i, p := range pilots {
		if cmplx.Abs(p-want[i]) > 1e-9*cmplx.Abs(want[i]) {
			return fmt.Errorf("pilot %d is %v: the transmitter sends beamforming.Pilots(M_U, P_tx), %v", i, p, want[i])
		}
	}
	return nil
}

// Radio is the hardware backend. Calls are made from one goroutine.
type Radio struct {
	p      Params
	log    *slog.Logger
	bs, ue *board.Client
	src    iq.Source

	setup    radio.Setup // the programmed setup (codes copied)
	have     bool
	schedule Schedule
	corrs    map[[2]int]*pilot.Correlator
	corr     *pilot.Correlator
	bsOrder  []uint16
	ueOrder  []uint16
	window   []complex64
	n        int
	events   int
	failed   int        // failed captures
	sync     pilot.Sync // the last capture's
	stale    bool       // program the boards again before the next capture
	resync   bool       // drain (or reopen) the IQ source before the next capture
	parked   bool
}

var _ radio.Radio = (*Radio)(nil)

// New opens both boards, checks that they match the arrays and the phase-shifter resolution, and
// opens the IQ source. The radio still needs Program.
func New(ctx context.Context, p Params, log *slog.Logger) (*Radio, error) {
	if err := p.PhaseShifter.Validate(); err != nil {
		return nil, fmt.Errorf("radio/sdr: %w", err)
	}
	if !(p.TxPower > 0) || !(p.Noise > 0) {
		return nil, fmt.Errorf("radio/sdr: want TxPower > 0 and Noise > 0 (got %g, %g W)", p.TxPower, p.Noise)
	}
	f := p.Frame
	f.MB, f.MU = 1, 1
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("radio/sdr: %w", err)
	}
	if p.Margin < 0 {
		return nil, fmt.Errorf("radio/sdr: margin %d, want >= 0", p.Margin)
	}
	r := &Radio{p: p, log: log, corrs: map[[2]int]*pilot.Correlator{}}
	var err error
	if r.bs, err = openBoard(ctx, p.BSBoard, p.BS.N(), p.PhaseShifter, log); err != nil {
		return nil, err
	}
	if r.ue, err = openBoard(ctx, p.UEBoard, p.UE.N(), p.PhaseShifter, log); err != nil {
		r.bs.Close()
		return nil, err
	}
	if r.src, err = p.IQ.Open(ctx, log); err != nil {
		r.bs.Close()
		r.ue.Close()
		return nil, fmt.Errorf("radio/sdr: %w", err)
	}
	return r, nil
}

// openBoard opens a board and checks its identity against the array it drives.
func openBoard(ctx context.Context, c board.Config, n int, ps beamforming.PhaseShifter, log *slog.Logger) (*board.Client, error) {
	b, err := board.Open(ctx, c, log)
	if err != nil {
		return nil, fmt.Errorf("radio/sdr: %w", err)
	}
	id := b.Identity()
	if id.Elements != n || id.PhaseBits != ps.Bits {
		b.Close()
		return nil, fmt.Errorf("radio/sdr: board %s on %s (%s) has %d elements with %d-bit shifters, the array needs %d with %d bits",
			c.Name, c.Port, id.ID, id.Elements, id.PhaseBits, n, ps.Bits)
	}
	log.Info("board ready", "board", c.Name, "port", c.Port, "id", id.ID, "firmware", id.Firmware, "elements", id.Elements, "phase_bits", id.PhaseBits)
	return b, nil
}

// Info describes the hardware testbed.
func (r *Radio) Info() radio.Info {
	return radio.Info{Backend: "sdr", Scene: r.p.Scene, BS: r.p.BS, UE: r.p.UE, PhaseShifter: r.p.PhaseShifter,
		TxPower: r.p.TxPower, Noise: r.p.Noise}
}

// Program loads W's and F's columns as beam tables and arms the sweep. The setup is kept: after a
// failure the next Capture programs it again.
func (r *Radio) Program(ctx context.Context, s radio.Setup) error {
	if r.parked {
		return errors.New("radio/sdr: program: radio parked")
	}
	f := r.p.Frame
	r.have = false
	r.schedule = Schedule{NB: s.W.N, MB: s.W.M, NU: s.F.N, MU: s.F.M, Setup: SetupDigest(s),
		PreambleLen: f.PreambleLen, PilotLen: f.PilotLen, Guard: f.Guard, Margin: r.p.Margin}
	err := r.programSetup(ctx, s)
	if rerr := r.record(EventProgram, nil, err); rerr != nil && err == nil {
		err = fmt.Errorf("radio/sdr: program: %w", rerr)
	}
	return err
}

// programSetup checks and keeps s, and programs the boards with it.
func (r *Radio) programSetup(ctx context.Context, s radio.Setup) error {
	nb, nu := r.p.BS.N(), r.p.UE.N()
	if s.W.N != nb || s.F.N != nu || len(s.Pilots) != s.F.M || s.W.M < 1 || s.F.M < 1 ||
		len(s.W.Code) != s.W.N*s.W.M || len(s.F.Code) != s.F.N*s.F.M {
		return fmt.Errorf("radio/sdr: program: want W %d x M_B, F %d x M_U and M_U pilots (got %d x %d, %d x %d, %d)",
			nb, nu, s.W.N, s.W.M, s.F.N, s.F.M, len(s.Pilots))
	}
	if err := CheckPilots(s.Pilots, r.p.TxPower); err != nil {
		return fmt.Errorf("radio/sdr: program: %w", err)
	}
	r.setup = radio.Setup{
		W:      beamforming.Codes{N: s.W.N, M: s.W.M, Code: append([]uint16(nil), s.W.Code...)},
		F:      beamforming.Codes{N: s.F.N, M: s.F.M, Code: append([]uint16(nil), s.F.Code...)},
		Pilots: append([]complex128(nil), s.Pilots...),
	}
	r.have = true
	key := [2]int{s.W.M, s.F.M}
	if r.corr = r.corrs[key]; r.corr == nil {
		r.corr = pilot.NewCorrelator(r.schedule.Frame())
		r.corrs[key] = r.corr
	}
	k := s.W.M * s.F.M
	r.bsOrder, r.ueOrder = r.bsOrder[:0], r.ueOrder[:0]
	for slot := range k {
		r.bsOrder = append(r.bsOrder, uint16(slot%s.W.M))
		r.ueOrder = append(r.ueOrder, uint16(slot/s.W.M))
	}
	if w := r.schedule.Window(); cap(r.window) < w {
		r.window = make([]complex64, w)
	}
	r.stale = true
	if err := r.program(ctx); err != nil {
		return fmt.Errorf("radio/sdr: program: %w", err)
	}
	return nil
}

// program writes the kept setup to the boards.
func (r *Radio) program(ctx context.Context) error {
	s := r.setup
	if err := r.bs.LoadBeamTable(ctx, columns(s.W)); err != nil {
		return err
	}
	if err := r.ue.LoadBeamTable(ctx, columns(s.F)); err != nil {
		return err
	}
	dwell := uint32(r.p.Frame.PilotLen + r.p.Frame.Guard)
	if err := r.bs.ArmSweep(ctx, r.bsOrder, dwell); err != nil {
		return err
	}
	if err := r.ue.ArmSweep(ctx, r.ueOrder, dwell); err != nil {
		return err
	}
	r.stale = false
	return nil
}

// columns are the beams of c (its columns) as a beam table: beam × element codes.
func columns(c beamforming.Codes) [][]uint16 {
	out := make([][]uint16, c.M)
	for j := range out {
		out[j] = make([]uint16, c.N)
		for i := range c.N {
			out[j][i] = c.Code[i*c.M+j]
		}
	}
	return out
}

// Capture runs one sweep and correlates its window into c.Y.
func (r *Radio) Capture(ctx context.Context, c *radio.Capture) error {
	if !r.have || r.parked {
		return errors.New("radio/sdr: capture before Program")
	}
	// A window that does not correlate is recorded too: a replay fails it the same way.
	w, err := r.capture(ctx, c)
	if err != nil {
		err = fmt.Errorf("radio/sdr: capture %d: %w", r.n, err)
	}
	if rerr := r.record(EventCapture, w, err); rerr != nil {
		err = errors.Join(err, fmt.Errorf("radio/sdr: capture %d: %w", r.n, rerr))
	}
	if err != nil {
		r.stale, r.resync = true, true
		r.failed++
		return err
	}
	c.Interval = r.n
	r.n++
	return nil
}

// record hands Params.Record one call's outcome.
func (r *Radio) record(kind string, samples []complex64, err error) error {
	if r.p.Record == nil {
		return nil
	}
	s := r.schedule
	s.Event, s.Seq, s.Capture = kind, r.events, r.n
	if err != nil {
		s.Error = err.Error()
	}
	r.events++
	if rerr := r.p.Record(Event{Schedule: s, Samples: samples}); rerr != nil {
		return fmt.Errorf("record: %w", rerr)
	}
	return nil
}

// capture triggers a sweep and correlates its window into c.Y; it returns the window once read.
func (r *Radio) capture(ctx context.Context, c *radio.Capture) ([]complex64, error) {
	if r.resync {
		if err := r.drain(ctx); err != nil {
			return nil, fmt.Errorf("resynchronise IQ: %w", err)
		}
		r.resync = false
	}
	if r.stale {
		if err := r.program(ctx); err != nil {
			return nil, err
		}
	}
	t := time.Now()
	if err := r.bs.Trigger(ctx); err != nil {
		return nil, err
	}
	w := r.window[:r.schedule.Window()]
	if err := r.src.ReadFull(ctx, w); err != nil {
		return nil, fmt.Errorf("read %d IQ samples: %w", len(w), err)
	}
	c.Y = grow(c.Y, r.schedule.MB*r.schedule.MU)
	sync, err := r.corr.Estimate(w, c.Y)
	if err != nil {
		return w, fmt.Errorf("correlate: %w", err)
	}
	r.sync = sync
	c.Truth, c.Time = nil, t
	return w, nil
}

// Health reports the boards' link statistics and the last sweep's synchronisation, for the
// daemon's status (controller.HealthReporter).
func (r *Radio) Health() map[string]any {
	h := map[string]any{
		"captures": r.n, "captures_failed": r.failed,
		"sync_offset": r.sync.Offset, "cfo_rad_per_sample": r.sync.CFO,
	}
	if x := r.sync.SNRdB; !math.IsInf(x, 0) && !math.IsNaN(x) { // JSON has no infinities
		h["sync_snr_db"] = x
	}
	for name, b := range map[string]*board.Client{"bs": r.bs, "ue": r.ue} {
		st := b.Stats()
		h[name+"_requests"], h[name+"_retransmissions"], h[name+"_reconnects"] = st.Requests, st.Retransmissions, st.Reconnects
	}
	return h
}

// QuietGap is how long a live IQ source must stay silent, after a failed capture, before the next
// sweep is triggered: a burst still in flight from the failed one arrives within it and is dropped.
const QuietGap = 50 * time.Millisecond

// drain drops whatever a live source still delivers until it stays silent for QuietGap; a stream
// that broke is reopened. A recording (SigMF) has nothing in flight.
func (r *Radio) drain(ctx context.Context) error {
	if r.p.IQ.Kind == IQSigMF {
		return nil
	}
	for dropped := 0; ; dropped += len(r.window) {
		qctx, cancel := context.WithTimeout(ctx, QuietGap)
		err := r.src.ReadFull(qctx, r.window)
		quiet := qctx.Err() != nil
		cancel()
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case quiet:
			if dropped > 0 {
				r.log.Info("dropped stale IQ samples", "at_least", dropped)
			}
			return nil
		}
		r.log.Warn("IQ stream broke: reopening", "err", err)
		r.src.Close()
		src, oerr := r.p.IQ.Open(ctx, r.log)
		if oerr != nil {
			return oerr
		}
		r.src = src
		return nil
	}
}

// Park sets every shifter to code 0, then closes the boards and the IQ source. Every step is tried;
// the errors are joined.
func (r *Radio) Park(ctx context.Context) error {
	if r.parked {
		return nil
	}
	r.parked = true
	var errs []error
	for _, b := range []struct {
		c *board.Client
		n int
	}{{r.bs, r.p.BS.N()}, {r.ue, r.p.UE.N()}} {
		errs = append(errs, b.c.SetPhases(ctx, make([]uint16, b.n)), b.c.Close())
	}
	errs = append(errs, r.src.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("radio/sdr: park: %w", err)
	}
	return nil
}

func grow(s []complex128, n int) []complex128 {
	if cap(s) < n {
		return make([]complex128, n)
	}
	return s[:n]
}
