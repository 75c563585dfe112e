package board

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tarm/serial"

	"github.com/cctrack/cctrack/radio"
)

// ErrDisconnected is returned (wrapped) when the port failed or the device node disappeared; the
// next call reopens it.
var ErrDisconnected = errors.New("board: disconnected")

// readPoll is the serial read timeout (VTIME, 0.1 s granularity): how often a waiting call looks at
// its context and deadline, so a cancelled context returns within about this long.
const readPoll = 100 * time.Millisecond

// bauds are the line rates tarm/serial can set on Linux from 9600 up.
var bauds = []int{9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600,
	1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000}

// Config says how to reach one board.
type Config struct {
	// Name names the board in errors and logs ("bs", "ue").
	Name string
	// Port is the serial device (a /dev/serial/by-id link, /dev/ttyUSB0, an emulator's pty link).
	Port string
	// Baud is the line rate (8N1), one of the rates Linux names from 9600 up (115200, 230400,
	// 460800, 921600, ...).
	Baud int
	// Timeout is how long one attempt waits for the answer beyond the request's and the longest
	// answer's wire time at Baud; the wait ends on a 0.1 s read-poll tick, so allow for that.
	Timeout time.Duration
	// Retries is how many times a request is retransmitted, with the same sequence number, after the
	// first attempt got no valid answer.
	Retries int
	// Dial, when set, opens the byte stream instead of tarm/serial (conntest recording or playback).
	// Its Read must return within about readPoll when no data comes, as a serial port with a read
	// timeout does.
	Dial func(ctx context.Context) (io.ReadWriteCloser, error)
}

func (c Config) validate() error {
	switch {
	case c.Name == "":
		return errors.New("board config: empty name")
	case c.Port == "" && c.Dial == nil:
		return fmt.Errorf("board %q config: empty port", c.Name)
	case c.Dial == nil && !slices.Contains(bauds, c.Baud):
		return fmt.Errorf("board %q config: baud %d, want one of %v", c.Name, c.Baud, bauds)
	case c.Baud <= 0:
		return fmt.Errorf("board %q config: baud %d, want > 0", c.Name, c.Baud)
	case c.Timeout <= 0:
		return fmt.Errorf("board %q config: timeout %v, want > 0", c.Name, c.Timeout)
	case c.Retries < 0:
		return fmt.Errorf("board %q config: retries %d, want >= 0", c.Name, c.Retries)
	}
	return nil
}

// Error is every error a Client returns: it names the board and the protocol command.
type Error struct {
	Board, Command string
	Err            error
}

func (e *Error) Error() string { return fmt.Sprintf("board %q %s: %v", e.Board, e.Command, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// State is a board's current settings (READ_STATE): per-element phase and gain codes, and the beam
// last selected or swept (-1 when phases were set element by element since).
type State struct {
	Phases, Gains []uint16
	Beam          int
}

// Stats counts a Client's traffic since Open.
type Stats struct {
	// Requests counts commands sent (not their retransmissions), Reconnects the attempts to reopen
	// the port after it failed or was closed.
	Requests, Retransmissions, Reconnects int
	// BytesOut and BytesIn are the bytes written and read; at Baud (8N1, 10 bits a byte) they take
	// WireTime on a real line.
	BytesOut, BytesIn int64
}

// WireTime is how long n bytes take on a baud-rate 8N1 line (10 bits a byte).
func WireTime(n int64, baud int) time.Duration {
	return time.Duration(n * 10 * int64(time.Second) / int64(baud))
}

// Client drives one board. Its methods may be called from several goroutines; requests go one at a
// time (the protocol is stop-and-wait). When the port fails or disappears the call fails with
// ErrDisconnected and the next call reopens it.
type Client struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	port  io.ReadWriteCloser // nil: closed, the next call reopens
	dev   os.FileInfo        // the opened device node, to notice it disappearing
	id    Identity
	seq   uint8
	stats Stats
	wbuf  []byte // encoded request
	pbuf  []byte // request payload
	rbuf  []byte // bytes received, not yet decoded
	resp  []byte // the last answer's data (after the status byte)
	tmp   []byte // read buffer
}

// Open opens the port, resets the board's sequence numbering and reads its identity.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: log.With("board", cfg.Name)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.connect(ctx); err != nil {
		return nil, &Error{cfg.Name, "open", err}
	}
	return c, nil
}

// connect opens the port and sends IDENTIFY with sequence number 0, which tells the board to
// forget its retransmission cache: a fresh host's first request is never mistaken for a repeat.
func (c *Client) connect(ctx context.Context) error {
	if c.cfg.Dial != nil {
		p, err := c.cfg.Dial(ctx)
		if err != nil {
			return fmt.Errorf("dial %s: %w: %w", c.cfg.Port, ErrDisconnected, err)
		}
		c.port = p
	} else {
		p, err := OpenSerial(c.cfg.Port, c.cfg.Baud)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrDisconnected, err)
		}
		fi, err := os.Stat(c.cfg.Port)
		if err != nil {
			p.Close()
			return fmt.Errorf("stat %s: %w: %w", c.cfg.Port, ErrDisconnected, err)
		}
		c.port, c.dev = p, fi
	}
	c.rbuf = c.rbuf[:0]
	c.seq = 0
	// Before IDENTIFY the board's payload limit is unknown; its answer fits the protocol maximum.
	if err := c.exchange(ctx, CmdIdentify, nil, MaxPayload); err != nil {
		c.drop()
		return err
	}
	id, err := ParseIdentity(c.resp)
	if err != nil {
		c.drop()
		return err
	}
	if c.id.Elements != 0 && (id.ID != c.id.ID || id.Elements != c.id.Elements) {
		c.log.Warn("a different board answers on the port", "was", c.id.ID, "now", id.ID, "elements", id.Elements)
	}
	c.id = id
	c.log.Info("board connected", "port", c.cfg.Port, "id", id.ID, "firmware", id.Firmware,
		"elements", id.Elements, "phase_bits", id.PhaseBits, "gain_bits", id.GainBits)
	return nil
}

// OpenSerial opens a serial port the way a Client does (tarm/serial, 8N1, a read timeout of 0.1 s)
// and discards whatever was pending in it. Use it in a Config.Dial that wraps the port (a
// conntest.Record).
func OpenSerial(port string, baud int) (io.ReadWriteCloser, error) {
	p, err := serial.OpenPort(&serial.Config{Name: port, Baud: baud, ReadTimeout: readPoll})
	if err != nil {
		return nil, fmt.Errorf("open %s at %d baud: %w", port, baud, err)
	}
	if err := p.Flush(); err != nil {
		p.Close()
		return nil, fmt.Errorf("flush %s: %w", port, err)
	}
	return p, nil
}

// drop closes the port; the next call reopens it.
func (c *Client) drop() {
	if c.port != nil {
		c.port.Close()
		c.port, c.dev = nil, nil
	}
}

// Close closes the port. Further calls reopen it.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.port == nil {
		return nil
	}
	err := c.port.Close()
	c.port, c.dev = nil, nil
	if err != nil {
		return &Error{c.cfg.Name, "close", err}
	}
	return nil
}

// Identity is the identity read when the port was last opened (or by the last Identify).
func (c *Client) Identity() Identity {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// Stats returns the traffic counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// errResend asks exchange to retransmit at once (a corrupt answer, or the board's bad-CRC NACK).
var errResend = errors.New("resend")

// exchange sends one request and waits for its answer, retransmitting up to Retries times with the
// same sequence number; the answer's data (after an OK status) is left in c.resp. Sequence numbers
// run 1..255 after the connect's 0.
func (c *Client) exchange(ctx context.Context, cmd uint8, payload []byte, maxResp int) error {
	seq := c.seq
	if c.seq++; c.seq == 0 {
		c.seq = 1
	}
	c.wbuf = AppendFrame(c.wbuf[:0], Frame{Seq: seq, Cmd: cmd, Payload: payload})
	wait := c.cfg.Timeout + WireTime(int64(len(c.wbuf)+maxResp+Overhead+1), c.cfg.Baud)
	c.stats.Requests++
	for attempt := 0; attempt <= c.cfg.Retries; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if attempt > 0 {
			// What is buffered now is stale or broken (a corrupted length field would otherwise hold
			// the decoder waiting for bytes that belong to the next answer).
			c.rbuf = c.rbuf[:0]
			c.stats.Retransmissions++
			c.log.Debug("retransmit", "cmd", CommandName(cmd), "seq", seq, "attempt", attempt)
		}
		if _, err := c.port.Write(c.wbuf); err != nil {
			c.drop()
			return fmt.Errorf("write: %w: %w", ErrDisconnected, err)
		}
		c.stats.BytesOut += int64(len(c.wbuf))
		err := c.await(ctx, seq, cmd, time.Now().Add(wait))
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errResend), errors.Is(err, radio.ErrTimeout):
			continue
		default:
			return err
		}
	}
	return fmt.Errorf("seq %d: no valid answer after %d attempts of %v: %w", seq, c.cfg.Retries+1, wait, radio.ErrTimeout)
}

// await reads until the answer to (seq, cmd) arrives, the deadline passes (radio.ErrTimeout), a
// corrupt frame or a bad-CRC NACK asks for a retransmission (errResend), or the port fails.
// Answers to other sequence numbers are late ones to earlier requests and are dropped.
func (c *Client) await(ctx context.Context, seq, cmd uint8, deadline time.Time) error {
	if c.tmp == nil {
		c.tmp = make([]byte, 512)
	}
	tmp := c.tmp
	for {
		for len(c.rbuf) > 0 {
			f, n, err := DecodeFrame(c.rbuf)
			if err == ErrIncomplete {
				c.rbuf = append(c.rbuf[:0], c.rbuf[n:]...)
				break
			}
			if err != nil {
				c.rbuf = append(c.rbuf[:0], c.rbuf[n:]...)
				return errResend
			}
			if f.Cmd&RespFlag != 0 && len(f.Payload) > 0 && Status(f.Payload[0]) == StatusBadCRC {
				c.rbuf = append(c.rbuf[:0], c.rbuf[n:]...)
				return errResend
			}
			if f.Seq != seq || f.Cmd != cmd|RespFlag || len(f.Payload) == 0 {
				c.rbuf = append(c.rbuf[:0], c.rbuf[n:]...)
				continue
			}
			st := Status(f.Payload[0])
			c.resp = append(c.resp[:0], f.Payload[1:]...)
			c.rbuf = append(c.rbuf[:0], c.rbuf[n:]...)
			if st != StatusOK {
				return st
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return radio.ErrTimeout
		}
		start := time.Now()
		n, err := c.port.Read(tmp)
		c.stats.BytesIn += int64(n)
		c.rbuf = append(c.rbuf, tmp[:n]...)
		if n > 0 {
			continue
		}
		if err != nil && err != io.EOF {
			c.drop()
			return fmt.Errorf("read: %w: %w", ErrDisconnected, err)
		}
		if c.gone(time.Since(start)) {
			c.drop()
			return fmt.Errorf("read: %w: %s went away", ErrDisconnected, c.cfg.Port)
		}
	}
}

// gone reports, after a read that returned no data in elapsed, whether the serial device is gone:
// its node no longer resolves to the device opened, or the read returned well before the read-poll
// timeout, which a tty with VMIN=0 does only when hung up.
func (c *Client) gone(elapsed time.Duration) bool {
	if c.dev == nil {
		return false
	}
	fi, err := os.Stat(c.cfg.Port)
	if err != nil || !os.SameFile(fi, c.dev) {
		return true
	}
	return elapsed < readPoll/2
}

// do runs one command: reopen the port if needed, then exchange. c.mu must be held.
func (c *Client) do(ctx context.Context, cmd uint8, payload []byte, maxResp int) error {
	if err := c.ensure(ctx); err != nil {
		return err
	}
	return c.exchange(ctx, cmd, payload, maxResp)
}

// ensure reopens the port if needed, so that c.id is known before a command checks against it.
func (c *Client) ensure(ctx context.Context) error {
	if c.port != nil {
		return nil
	}
	c.stats.Reconnects++
	if err := c.connect(ctx); err != nil {
		return fmt.Errorf("reconnect: %w", err)
	}
	return nil
}

// wrap names the board and the command in err (nil stays nil).
func (c *Client) wrap(cmd uint8, err error) error {
	if err == nil {
		return nil
	}
	return &Error{c.cfg.Name, CommandName(cmd), err}
}

// Identify asks the board for its identity again.
func (c *Client) Identify(ctx context.Context) (Identity, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, err := c.identify(ctx)
	return id, c.wrap(CmdIdentify, err)
}

func (c *Client) identify(ctx context.Context) (Identity, error) {
	if err := c.do(ctx, CmdIdentify, nil, MaxPayload); err != nil {
		return Identity{}, err
	}
	id, err := ParseIdentity(c.resp)
	if err != nil {
		return Identity{}, err
	}
	c.id = id
	return id, nil
}

// checkCodes returns an error unless codes has one code per element, each below 2^bits.
func (c *Client) checkCodes(codes []uint16, bits int) error {
	if len(codes) != c.id.Elements {
		return fmt.Errorf("%d codes for %d elements", len(codes), c.id.Elements)
	}
	for i, v := range codes {
		if int(v) >= 1<<bits {
			return fmt.Errorf("element %d: code %d does not fit %d bits", i, v, bits)
		}
	}
	return nil
}

// SetPhase sets one element's phase code.
func (c *Client) SetPhase(ctx context.Context, element int, code uint16) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrap(CmdSetPhase, c.setPhase(ctx, element, code))
}

func (c *Client) setPhase(ctx context.Context, element int, code uint16) error {
	if err := c.ensure(ctx); err != nil {
		return err
	}
	if element < 0 || element >= c.id.Elements || int(code) >= 1<<c.id.PhaseBits {
		return fmt.Errorf("element %d code %d outside %d elements, %d bits", element, code, c.id.Elements, c.id.PhaseBits)
	}
	c.pbuf = binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(c.pbuf[:0], uint16(element)), code)
	return c.do(ctx, CmdSetPhase, c.pbuf, 0)
}

// SetPhases sets every element's phase code (len(codes) = Elements), in as few frames as the
// board's payload limit allows; each frame takes effect when received.
func (c *Client) SetPhases(ctx context.Context, codes []uint16) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrap(CmdSetPhases, c.setCodes(ctx, CmdSetPhases, codes))
}

// SetGains sets every element's gain code (attenuation code·GainStepDB dB).
func (c *Client) SetGains(ctx context.Context, codes []uint16) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrap(CmdSetGains, c.setCodes(ctx, CmdSetGains, codes))
}

func (c *Client) setCodes(ctx context.Context, cmd uint8, codes []uint16) error {
	if err := c.ensure(ctx); err != nil {
		return err
	}
	bits := c.id.PhaseBits
	if cmd == CmdSetGains {
		if bits = c.id.GainBits; bits == 0 {
			return errors.New("the board has no gain control")
		}
	}
	if err := c.checkCodes(codes, bits); err != nil {
		return err
	}
	return c.bulk(ctx, cmd, nil, codes, bits)
}

// bulk sends codes in chunks: payload = prefix, start u16, count u16, packed codes.
func (c *Client) bulk(ctx context.Context, cmd uint8, prefix []byte, codes []uint16, bits int) error {
	chunk := codesPerFrame(c.id.MaxPayload, len(prefix)+4, bits)
	for start := 0; start < len(codes); start += chunk {
		end := min(start+chunk, len(codes))
		c.pbuf = append(c.pbuf[:0], prefix...)
		c.pbuf = le16(le16(c.pbuf, start), end-start)
		c.pbuf = PackCodes(c.pbuf, codes[start:end], bits)
		if err := c.do(ctx, cmd, c.pbuf, 0); err != nil {
			return err
		}
	}
	return nil
}

// LoadBeamTable writes beams (beam × element phase codes) into table entries 0..len(beams)-1.
// Entries beyond keep their contents.
func (c *Client) LoadBeamTable(ctx context.Context, beams [][]uint16) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrap(CmdLoadBeam, c.loadBeamTable(ctx, beams))
}

func (c *Client) loadBeamTable(ctx context.Context, beams [][]uint16) error {
	if err := c.ensure(ctx); err != nil {
		return err
	}
	if len(beams) > c.id.Beams {
		return fmt.Errorf("%d beams, the table holds %d", len(beams), c.id.Beams)
	}
	for b, codes := range beams {
		if err := c.checkCodes(codes, c.id.PhaseBits); err != nil {
			return fmt.Errorf("beam %d: %w", b, err)
		}
	}
	var prefix [2]byte
	for b, codes := range beams {
		binary.LittleEndian.PutUint16(prefix[:], uint16(b))
		if err := c.bulk(ctx, CmdLoadBeam, prefix[:], codes, c.id.PhaseBits); err != nil {
			return fmt.Errorf("beam %d: %w", b, err)
		}
	}
	return nil
}

// SelectBeam applies beam table entry i to the elements.
func (c *Client) SelectBeam(ctx context.Context, i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrap(CmdSelectBeam, c.selectBeam(ctx, i))
}

func (c *Client) selectBeam(ctx context.Context, i int) error {
	if err := c.ensure(ctx); err != nil {
		return err
	}
	if i < 0 || i >= c.id.Beams {
		return fmt.Errorf("beam %d outside the table of %d", i, c.id.Beams)
	}
	c.pbuf = le16(c.pbuf[:0], i)
	return c.do(ctx, CmdSelectBeam, c.pbuf, 0)
}

// ArmSweep arms a sweep: on each trigger the board steps through order (the beam of each slot),
// dwelling dwellSamples IQ samples per slot. The sweep stays armed for further triggers.
func (c *Client) ArmSweep(ctx context.Context, order []uint16, dwellSamples uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrap(CmdArmSweep, c.armSweep(ctx, order, dwellSamples))
}

func (c *Client) armSweep(ctx context.Context, order []uint16, dwellSamples uint32) error {
	if err := c.ensure(ctx); err != nil {
		return err
	}
	if len(order) == 0 || len(order) > c.id.MaxSlots {
		return fmt.Errorf("%d slots, want 1..%d", len(order), c.id.MaxSlots)
	}
	for k, b := range order {
		if int(b) >= c.id.Beams {
			return fmt.Errorf("slot %d: beam %d outside the table of %d", k, b, c.id.Beams)
		}
	}
	const hdr = 4 + 2 + 2 + 2
	chunk := (c.id.MaxPayload - hdr) / 2
	for start := 0; start < len(order); start += chunk {
		end := min(start+chunk, len(order))
		c.pbuf = binary.LittleEndian.AppendUint32(c.pbuf[:0], dwellSamples)
		c.pbuf = le16(le16(le16(c.pbuf, len(order)), start), end-start)
		for _, b := range order[start:end] {
			c.pbuf = le16(c.pbuf, int(b))
		}
		if err := c.do(ctx, CmdArmSweep, c.pbuf, 0); err != nil {
			return err
		}
	}
	return nil
}

// Trigger starts the armed sweep (the board also pulses its trigger output for linked boards).
func (c *Client) Trigger(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrap(CmdTrigger, c.do(ctx, CmdTrigger, nil, 0))
}

// ReadState reads back every element's phase and gain codes and the current beam.
func (c *Client) ReadState(ctx context.Context) (State, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.readState(ctx)
	return st, c.wrap(CmdReadState, err)
}

func (c *Client) readState(ctx context.Context) (State, error) {
	if err := c.ensure(ctx); err != nil {
		return State{}, err
	}
	n, pb, gb := c.id.Elements, c.id.PhaseBits, c.id.GainBits
	st := State{Phases: make([]uint16, n), Gains: make([]uint16, n)}
	// Answer data: beam u16, start u16, count u16, phases packed, gains packed; the status byte and
	// the two packings' rounding take 3 more bytes.
	chunk := (c.id.MaxPayload - 1 - 6 - 2) * 8 / (pb + gb)
	for start := 0; start < n; start += chunk {
		cnt := min(chunk, n-start)
		c.pbuf = le16(le16(c.pbuf[:0], start), cnt)
		if err := c.do(ctx, CmdReadState, c.pbuf, c.id.MaxPayload); err != nil {
			return State{}, err
		}
		want := 6 + PackedLen(cnt, pb) + PackedLen(cnt, gb)
		if len(c.resp) != want || u16(c.resp[2:]) != start || u16(c.resp[4:]) != cnt {
			return State{}, fmt.Errorf("answer of %d bytes for elements %d+%d, want %d", len(c.resp), start, cnt, want)
		}
		st.Beam = u16(c.resp)
		if st.Beam == NoBeam {
			st.Beam = -1
		}
		UnpackCodes(st.Phases[start:start+cnt], c.resp[6:], pb)
		UnpackCodes(st.Gains[start:start+cnt], c.resp[6+PackedLen(cnt, pb):], gb)
	}
	return st, nil
}

// Temperature reads the board's temperature (°C, 0.01 °C resolution).
func (c *Client) Temperature(ctx context.Context) (float64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.do(ctx, CmdTemperature, nil, 2); err != nil {
		return 0, c.wrap(CmdTemperature, err)
	}
	if len(c.resp) != 2 {
		return 0, c.wrap(CmdTemperature, fmt.Errorf("answer of %d bytes, want 2", len(c.resp)))
	}
	return float64(int16(binary.LittleEndian.Uint16(c.resp))) / 100, nil
}
