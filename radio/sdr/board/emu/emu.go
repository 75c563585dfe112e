// Package emu emulates phase-shifter board firmware: it speaks the radio/sdr/board protocol
// (PROTOCOL.md) over any io.ReadWriter, or on a pseudo-terminal with ServePTY, so the real serial
// client can be tested without hardware. It injects faults (dropped, corrupted and delayed frames,
// disconnects) from a seeded generator, and per-element phase and gain errors that show up in the
// weights it reports for each triggered sweep (OnTrigger), which an air model multiplies into its
// channel.
//
// The emulator keeps its state across Disconnect/Reconnect (a cable pulled, not a power cycle).
//
// Deviation from the first sketch of the contract: OpenPTY returns a *PTY (master, slave path and a
// Close that also closes the slave descriptor the emulator keeps open) instead of (master, path,
// err): without that descriptor a host closing and reopening the slave makes the master fail.
package emu

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/radio/sdr/board"
)

// ErrDisconnected is returned by Serve when Disconnect was called (or is in effect).
var ErrDisconnected = errors.New("emu: board disconnected")

// faultStream is the fault generator's second PCG word ("emu").
const faultStream = 0x656d75

// Defaults for the zero values of Config's capacity fields.
const (
	DefaultBeams    = 256
	DefaultMaxSlots = 4096
)

// Faults are injected line faults, drawn for each well-formed request received from a PCG seeded
// with Seed. Which frames arrive well-formed after a corruption can depend on timing (the frame gap),
// so a seed fixes the draws, not always the whole run.
type Faults struct {
	// DropRate is the probability that a request is lost: half the time before the board sees it
	// (nothing happens), half the time its answer is lost after it ran (the host's retransmission
	// then gets the cached answer without running it again).
	DropRate float64
	// CorruptRate is the probability of one flipped bit, anywhere in the request (half the time)
	// or in its answer (the other half).
	CorruptRate float64
	// Delay holds back every answer.
	Delay time.Duration
	Seed  uint64
}

// Config describes an emulated board.
type Config struct {
	ID                            string
	Elements, PhaseBits, GainBits int
	Firmware                      string
	// PhaseErrRad and GainErrDB are per-element errors (nil = none, else one per element): element
	// e's applied weight is exp(j(2π code/2^PhaseBits + PhaseErrRad[e])) ·
	// 10^((GainErrDB[e] − board.GainStepDB·gain code)/20) / sqrt(Elements).
	PhaseErrRad, GainErrDB []float64
	Faults                 Faults
	// Beams and MaxSlots are the beam-table and sweep capacities (0: DefaultBeams, DefaultMaxSlots).
	Beams, MaxSlots int
	// TemperatureC is what TEMPERATURE reads.
	TemperatureC float64
}

// Sweep is one triggered sweep of one board.
type Sweep struct {
	Board string
	// Dwell is the samples per slot from ARM_SWEEP, Beams the beam of each slot.
	Dwell uint32
	Beams []uint16
	// Slots[k] holds the weights applied to each element during slot k, errors included (see
	// Config); slots of the same beam share one slice. The slices belong to the board: valid only
	// during the OnTrigger callback.
	Slots [][]complex128
}

// Board is an emulated board. Its methods are safe for concurrent use.
type Board struct {
	cfg Config
	id  board.Identity
	ps  beamforming.PhaseShifter

	mu      sync.Mutex
	rng     *rand.Rand
	phases  []uint16
	gains   []uint16
	beam    int // -1: none
	table   [][]uint16
	loaded  []bool
	order   []uint16 // the sweep being armed or armed
	got     int      // slots of order received so far
	total   int      // slots of the sweep being armed
	armed   bool
	dwell   uint32
	onTrig  func(Sweep)
	linked  []*Board
	slots   [][]complex128
	beamW   map[uint16][]complex128 // this sweep's weights per beam
	wbuf    map[uint16][]complex128 // weight buffers per beam, kept across sweeps
	lastReq []byte                  // the last executed request frame (seq and bytes), for retransmissions
	lastAns []byte                  // its answer frame
	data    []byte                  // answer payload being built
	gone    chan struct{}
	off     bool
	back    chan struct{} // closed by Reconnect
}

// New makes a board. It panics on an invalid config (a programmer error: callers validate theirs).
func New(cfg Config) *Board {
	if cfg.Elements < 1 || cfg.Elements > 0xFFFF || cfg.PhaseBits < 1 || cfg.PhaseBits > 16 || cfg.GainBits < 0 || cfg.GainBits > 16 {
		panic("emu: bad board shape")
	}
	if (cfg.PhaseErrRad != nil && len(cfg.PhaseErrRad) != cfg.Elements) || (cfg.GainErrDB != nil && len(cfg.GainErrDB) != cfg.Elements) {
		panic("emu: per-element errors must have one entry per element")
	}
	if cfg.Beams == 0 {
		cfg.Beams = DefaultBeams
	}
	if cfg.MaxSlots == 0 {
		cfg.MaxSlots = DefaultMaxSlots
	}
	b := &Board{
		cfg: cfg,
		id: board.Identity{ID: cfg.ID, Elements: cfg.Elements, PhaseBits: cfg.PhaseBits, GainBits: cfg.GainBits,
			Firmware: cfg.Firmware, Beams: cfg.Beams, MaxSlots: cfg.MaxSlots, MaxPayload: board.MaxPayload},
		ps:     beamforming.PhaseShifter{Bits: cfg.PhaseBits},
		rng:    rand.New(rand.NewPCG(cfg.Faults.Seed, faultStream)),
		phases: make([]uint16, cfg.Elements),
		gains:  make([]uint16, cfg.Elements),
		beam:   -1,
		table:  make([][]uint16, cfg.Beams),
		loaded: make([]bool, cfg.Beams),
		beamW:  map[uint16][]complex128{},
		wbuf:   map[uint16][]complex128{},
		gone:   make(chan struct{}),
		back:   make(chan struct{}),
	}
	close(b.back)
	return b
}

// SetFaults replaces the fault settings; the generator is reseeded from f.Seed.
func (b *Board) SetFaults(f Faults) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg.Faults = f
	b.rng = rand.New(rand.NewPCG(f.Seed, faultStream))
}

// OnTrigger sets the callback run for each sweep of this board, on the goroutine serving the
// triggering board. The TRIGGER's ACK goes out after the callbacks of every swept board returned,
// so when a host's Trigger returns the sweep has been handed over.
func (b *Board) OnTrigger(f func(Sweep)) {
	b.mu.Lock()
	b.onTrig = f
	b.mu.Unlock()
}

// Link wires b's trigger output to other's trigger input: a TRIGGER to b also runs other's armed
// sweep (an unarmed linked board ignores the pulse, as hardware would).
func (b *Board) Link(other *Board) {
	b.mu.Lock()
	b.linked = append(b.linked, other)
	b.mu.Unlock()
}

// Disconnect makes the board vanish: Serve returns ErrDisconnected (ServePTY removes the device
// link and closes the pty) until Reconnect. State (codes, tables, the armed sweep) is kept: it models
// the link going away, not a power cycle.
func (b *Board) Disconnect() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.off {
		return
	}
	b.off = true
	close(b.gone)
	b.back = make(chan struct{})
}

// Reconnect undoes Disconnect; the retransmission cache starts empty.
func (b *Board) Reconnect() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.off {
		return
	}
	b.off = false
	b.gone = make(chan struct{})
	b.lastReq, b.lastAns = nil, nil
	close(b.back)
}

// Serve answers requests read from rw until ctx is done (ctx.Err()), Disconnect is called
// (ErrDisconnected) or rw fails. A Read in progress when it returns is left to a goroutine that ends
// when that Read does (close rw to end it).
func (b *Board) Serve(ctx context.Context, rw io.ReadWriter) error {
	b.mu.Lock()
	off, gone := b.off, b.gone
	b.mu.Unlock()
	if off {
		return ErrDisconnected
	}
	type chunk struct {
		p   []byte
		err error
	}
	chunks := make(chan chunk)
	free := make(chan struct{}) // the loop has copied the last chunk: its buffer is free again
	done := make(chan struct{})
	defer close(done)
	go func() {
		buf := make([]byte, 2048)
		for {
			n, err := rw.Read(buf)
			select {
			case chunks <- chunk{buf[:n], err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
			select {
			case <-free:
			case <-done:
				return
			}
		}
	}()
	var in, out []byte
	// process handles the complete frames in in, keeping a partial one.
	process := func() error {
		for len(in) > 0 {
			f, n, err := board.DecodeFrame(in)
			switch {
			case err == board.ErrIncomplete:
				in = append(in[:0], in[n:]...)
				return nil
			case err == board.ErrCRC:
				out = board.AppendFrame(out[:0], board.Frame{Seq: f.Seq, Cmd: f.Cmd | board.RespFlag, Payload: []byte{byte(board.StatusBadCRC)}})
				err = b.send(ctx, rw, out, 0)
			case err != nil || f.Cmd&board.RespFlag != 0:
				err = nil // a bad length or a stray answer: skip it
			default:
				raw := in[n-board.Overhead-len(f.Payload) : n]
				ft := b.draw()
				if ft.corruptReq {
					// One bit of the request flips on the line; decoding goes on over the damaged
					// bytes: a bad CRC, a lost sync or a wrong length, as on a real line.
					raw[ft.bit/8%uint64(len(raw))] ^= 1 << (ft.bit % 8)
					continue
				}
				out, err = b.frame(ctx, rw, raw, f, out, ft)
			}
			in = append(in[:0], in[n:]...)
			if err != nil {
				return err
			}
		}
		return nil
	}
	// gap drops a partial frame after board.FrameGap without a byte (PROTOCOL.md): a damaged length
	// field would otherwise hold the receiver until that many bytes arrived.
	gap := time.NewTimer(board.FrameGap)
	gap.Stop()
	defer gap.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-gone:
			return ErrDisconnected
		case <-gap.C:
			if _, n, _ := board.DecodeFrame(in); n < len(in) {
				in = append(in[:0], in[n+1:]...) // resume one byte after the stalled frame's sync
			}
			if err := process(); err != nil {
				return err
			}
		case c := <-chunks:
			in = append(in, c.p...)
			if c.err == nil {
				free <- struct{}{}
			}
			if err := process(); err != nil {
				return err
			}
			if c.err != nil {
				return c.err
			}
		}
		gap.Stop()
		if len(in) > 0 {
			gap.Reset(board.FrameGap)
		}
	}
}

// fault is what the generator decided for one request.
type fault struct {
	drop, dropReq, corrupt, corruptReq bool
	bit                                uint64
	delay                              time.Duration
}

// draw decides the faults of one request.
func (b *Board) draw() fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	fl := b.cfg.Faults
	var f fault
	f.drop = fl.DropRate > 0 && b.rng.Float64() < fl.DropRate
	f.dropReq = f.drop && b.rng.IntN(2) == 0
	f.corrupt = fl.CorruptRate > 0 && b.rng.Float64() < fl.CorruptRate
	f.corruptReq = f.corrupt && b.rng.IntN(2) == 0
	f.bit = b.rng.Uint64()
	f.delay = fl.Delay
	return f
}

// frame handles one well-formed request (raw is its bytes) with the drawn faults.
func (b *Board) frame(ctx context.Context, rw io.ReadWriter, raw []byte, f board.Frame, out []byte, ft fault) ([]byte, error) {
	if ft.dropReq {
		return out, nil
	}
	out, after := b.execute(f, raw, out)
	if after != nil {
		after()
	}
	if ft.drop {
		return out, nil
	}
	ans := out
	if ft.corrupt {
		ans = append([]byte(nil), out...)
		ans[int(ft.bit/8%uint64(len(ans)))] ^= 1 << (ft.bit % 8)
	}
	return out, b.send(ctx, rw, ans, ft.delay)
}

// send writes an answer after delay.
func (b *Board) send(ctx context.Context, rw io.ReadWriter, ans []byte, delay time.Duration) error {
	if d := delay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	_, err := rw.Write(ans)
	return err
}

// execute runs a request, or replays the cached answer to a retransmission (same seq and bytes;
// seq 0 always runs: a host's first request after opening). It returns the answer frame and, for
// TRIGGER, the sweep to run before the answer goes out.
func (b *Board) execute(f board.Frame, raw, out []byte) ([]byte, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f.Seq != 0 && b.lastReq != nil && string(raw) == string(b.lastReq) {
		return append(out[:0], b.lastAns...), nil
	}
	st, data, after := b.command(f, append(b.data[:0], 0)) // status byte, then the data
	b.data = data
	data[0] = byte(st)
	out = board.AppendFrame(out[:0], board.Frame{Seq: f.Seq, Cmd: f.Cmd | board.RespFlag, Payload: data})
	b.lastReq = append(b.lastReq[:0], raw...)
	b.lastAns = append(b.lastAns[:0], out...)
	return out, after
}

// command executes f on the board state (b.mu held), appending answer data after data's status byte.
func (b *Board) command(f board.Frame, data []byte) (board.Status, []byte, func()) {
	p := f.Payload
	n := b.cfg.Elements
	switch f.Cmd {
	case board.CmdIdentify:
		if len(p) != 0 {
			return board.StatusBadLength, data, nil
		}
		return board.StatusOK, board.AppendIdentity(data, b.id), nil
	case board.CmdSetPhase:
		if len(p) != 4 {
			return board.StatusBadLength, data, nil
		}
		e, c := int(le16(p)), le16(p[2:])
		if e >= n || int(c) >= 1<<b.cfg.PhaseBits {
			return board.StatusBadArg, data, nil
		}
		b.phases[e] = c
		b.beam = -1
		return board.StatusOK, data, nil
	case board.CmdSetPhases, board.CmdSetGains:
		bits, dst := b.cfg.PhaseBits, b.phases
		if f.Cmd == board.CmdSetGains {
			bits, dst = b.cfg.GainBits, b.gains
			if bits == 0 {
				return board.StatusUnknownCmd, data, nil
			}
		}
		st := unpackRange(dst, p, bits)
		if st == board.StatusOK && f.Cmd == board.CmdSetPhases {
			b.beam = -1
		}
		return st, data, nil
	case board.CmdLoadBeam:
		if len(p) < 2 {
			return board.StatusBadLength, data, nil
		}
		i := int(le16(p))
		if i >= b.cfg.Beams {
			return board.StatusBadArg, data, nil
		}
		if b.table[i] == nil {
			b.table[i] = make([]uint16, n)
		}
		st := unpackRange(b.table[i], p[2:], b.cfg.PhaseBits)
		if st == board.StatusOK {
			b.loaded[i] = true
		}
		return st, data, nil
	case board.CmdSelectBeam:
		if len(p) != 2 {
			return board.StatusBadLength, data, nil
		}
		i := int(le16(p))
		if i >= b.cfg.Beams || !b.loaded[i] {
			return board.StatusBadArg, data, nil
		}
		copy(b.phases, b.table[i])
		b.beam = i
		return board.StatusOK, data, nil
	case board.CmdArmSweep:
		return b.arm(p), data, nil
	case board.CmdTrigger:
		if len(p) != 0 {
			return board.StatusBadLength, data, nil
		}
		if !b.armed {
			return board.StatusNotArmed, data, nil
		}
		return board.StatusOK, data, b.fire
	case board.CmdReadState:
		if len(p) != 4 {
			return board.StatusBadLength, data, nil
		}
		start, cnt := int(le16(p)), int(le16(p[2:]))
		pb, gb := b.cfg.PhaseBits, b.cfg.GainBits
		if start+cnt > n || 1+6+board.PackedLen(cnt, pb)+board.PackedLen(cnt, gb) > board.MaxPayload {
			return board.StatusBadArg, data, nil
		}
		beam := board.NoBeam
		if b.beam >= 0 {
			beam = b.beam
		}
		data = binary.LittleEndian.AppendUint16(data, uint16(beam))
		data = binary.LittleEndian.AppendUint16(data, uint16(start))
		data = binary.LittleEndian.AppendUint16(data, uint16(cnt))
		data = board.PackCodes(data, b.phases[start:start+cnt], pb)
		return board.StatusOK, board.PackCodes(data, b.gains[start:start+cnt], gb), nil
	case board.CmdTemperature:
		if len(p) != 0 {
			return board.StatusBadLength, data, nil
		}
		return board.StatusOK, binary.LittleEndian.AppendUint16(data, uint16(int16(math.Round(b.cfg.TemperatureC*100)))), nil
	}
	return board.StatusUnknownCmd, data, nil
}

// unpackRange applies a bulk payload (start u16, count u16, packed codes) to dst.
func unpackRange(dst []uint16, p []byte, bits int) board.Status {
	if len(p) < 4 {
		return board.StatusBadLength
	}
	start, cnt := int(le16(p)), int(le16(p[2:]))
	if start+cnt > len(dst) {
		return board.StatusBadArg
	}
	if len(p) != 4+board.PackedLen(cnt, bits) {
		return board.StatusBadLength
	}
	board.UnpackCodes(dst[start:start+cnt], p[4:], bits)
	return board.StatusOK
}

// arm handles ARM_SWEEP: dwell u32, total u16, start u16, count u16, beams u16[count]. A chunk with
// start 0 begins a new sweep; the sweep is armed when the chunk ending at total arrives.
func (b *Board) arm(p []byte) board.Status {
	if len(p) < 10 {
		return board.StatusBadLength
	}
	dwell := binary.LittleEndian.Uint32(p)
	total, start, cnt := int(le16(p[4:])), int(le16(p[6:])), int(le16(p[8:]))
	if len(p) != 10+2*cnt {
		return board.StatusBadLength
	}
	if total == 0 || total > b.cfg.MaxSlots || start+cnt > total || (start != 0 && (start != b.got || total != b.total)) {
		return board.StatusBadArg
	}
	for k := range cnt {
		if i := int(le16(p[10+2*k:])); i >= b.cfg.Beams || !b.loaded[i] {
			return board.StatusBadArg
		}
	}
	if start == 0 {
		b.armed = false
		b.order = b.order[:0]
		b.dwell = dwell
		b.total = total
	}
	for k := range cnt {
		b.order = append(b.order, le16(p[10+2*k:]))
	}
	b.got = start + cnt
	if b.got == total {
		b.armed = true
	}
	return board.StatusOK
}

// fire runs this board's sweep and pulses the linked boards' trigger inputs.
func (b *Board) fire() {
	b.mu.Lock()
	linked := append([]*Board(nil), b.linked...)
	b.mu.Unlock()
	b.sweep()
	for _, o := range linked {
		o.sweep()
	}
}

// sweep computes the applied weights of each slot of the armed sweep, leaves the last slot's beam
// selected and runs the OnTrigger callback.
func (b *Board) sweep() {
	b.mu.Lock()
	if !b.armed {
		b.mu.Unlock()
		return
	}
	n := b.cfg.Elements
	if len(b.slots) != len(b.order) {
		b.slots = make([][]complex128, len(b.order))
	}
	amp := make([]float64, n)
	scale := 1 / math.Sqrt(float64(n))
	for e := range n {
		db := -board.GainStepDB * float64(b.gains[e])
		if b.cfg.GainErrDB != nil {
			db += b.cfg.GainErrDB[e]
		}
		amp[e] = math.Pow(10, db/20) * scale
	}
	// One weight vector per beam used, shared by the slots that use it.
	clear(b.beamW)
	for k, beam := range b.order {
		w, ok := b.beamW[beam]
		if !ok {
			w = b.slotBuf(beam)
			for e, code := range b.table[beam] {
				ph := b.ps.Phase(code)
				if b.cfg.PhaseErrRad != nil {
					ph += b.cfg.PhaseErrRad[e]
				}
				w[e] = cmplx.Rect(amp[e], ph)
			}
			b.beamW[beam] = w
		}
		b.slots[k] = w
	}
	last := int(b.order[len(b.order)-1])
	copy(b.phases, b.table[last])
	b.beam = last
	sw := Sweep{Board: b.cfg.ID, Dwell: b.dwell, Beams: b.order, Slots: b.slots}
	cb := b.onTrig
	// The callback runs under b.mu so that the slots it reads cannot change under it; it must not
	// call b's methods.
	if cb != nil {
		cb(sw)
	}
	b.mu.Unlock()
}

// slotBuf is beam's weight buffer (b.mu held).
func (b *Board) slotBuf(beam uint16) []complex128 {
	w, ok := b.wbuf[beam]
	if !ok {
		w = make([]complex128, b.cfg.Elements)
		b.wbuf[beam] = w
	}
	return w
}

// State returns copies of the board's phase and gain codes and its beam (-1: none), for tests.
func (b *Board) State() (phases, gains []uint16, beam int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]uint16(nil), b.phases...), append([]uint16(nil), b.gains...), b.beam
}

func le16(p []byte) uint16 { return binary.LittleEndian.Uint16(p) }
