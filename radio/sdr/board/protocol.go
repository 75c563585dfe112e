package board

import (
	"fmt"
	"time"
)

// ProtocolVersion is the version IDENTIFY reports; a client refuses any other.
const ProtocolVersion = 1

// FrameGap is the receiver's frame timeout: a partial frame with no byte for this long is dropped and
// the search for a sync resumes one byte after its sync. Frames are sent in one burst, so only a
// damaged frame (a flipped length field) stalls; a host's retransmission comes after a longer wait.
const FrameGap = 50 * time.Millisecond

// RespFlag is set in a response's Cmd: response Cmd = request Cmd | RespFlag.
const RespFlag = 0x80

// Command codes (PROTOCOL.md gives each payload).
const (
	CmdIdentify    = 0x01
	CmdSetPhase    = 0x02
	CmdSetPhases   = 0x03
	CmdSetGains    = 0x04
	CmdLoadBeam    = 0x05
	CmdSelectBeam  = 0x06
	CmdArmSweep    = 0x07
	CmdTrigger     = 0x08
	CmdReadState   = 0x09
	CmdTemperature = 0x0A
)

// NoBeam is the beam field of READ_STATE when the phases were set element by element.
const NoBeam = 0xFFFF

// GainStepDB is the attenuation of one gain-code step: gain code c attenuates by c·GainStepDB dB,
// so code 0 is full gain.
const GainStepDB = 0.5

// CommandName is the protocol name of a command code, for errors and logs.
func CommandName(cmd uint8) string {
	switch cmd &^ RespFlag {
	case CmdIdentify:
		return "IDENTIFY"
	case CmdSetPhase:
		return "SET_PHASE"
	case CmdSetPhases:
		return "SET_PHASES"
	case CmdSetGains:
		return "SET_GAINS"
	case CmdLoadBeam:
		return "LOAD_BEAM"
	case CmdSelectBeam:
		return "SELECT_BEAM"
	case CmdArmSweep:
		return "ARM_SWEEP"
	case CmdTrigger:
		return "TRIGGER"
	case CmdReadState:
		return "READ_STATE"
	case CmdTemperature:
		return "TEMPERATURE"
	}
	return fmt.Sprintf("CMD_0x%02X", cmd&^RespFlag)
}

// Status is the first payload byte of a response: StatusOK acknowledges (ACK), anything else refuses
// the request (NACK). A non-OK Status is the error a Client returns (wrapped), so
// errors.Is(err, board.StatusBadArg) works.
type Status uint8

// Status codes.
const (
	StatusOK Status = iota
	// StatusBadCRC: the board received a frame with a bad CRC; the host retransmits at once.
	StatusBadCRC
	// StatusUnknownCmd: the command code is not implemented.
	StatusUnknownCmd
	// StatusBadLength: the payload length does not fit the command.
	StatusBadLength
	// StatusBadArg: an element, beam, count or code is out of range.
	StatusBadArg
	// StatusNotArmed: TRIGGER without a complete ARM_SWEEP.
	StatusNotArmed
)

func (s Status) Error() string {
	switch s {
	case StatusOK:
		return "ACK"
	case StatusBadCRC:
		return "NACK bad CRC"
	case StatusUnknownCmd:
		return "NACK unknown command"
	case StatusBadLength:
		return "NACK bad length"
	case StatusBadArg:
		return "NACK bad argument"
	case StatusNotArmed:
		return "NACK not armed"
	}
	return fmt.Sprintf("NACK 0x%02X", uint8(s))
}

// Identity is what a board reports in IDENTIFY.
type Identity struct {
	ID        string
	Elements  int
	PhaseBits int
	GainBits  int
	Firmware  string
	// Beams is the beam-table capacity, MaxSlots the longest sweep, MaxPayload the largest frame
	// payload the board accepts (<= the protocol's MaxPayload).
	Beams, MaxSlots, MaxPayload int
}

// AppendIdentity appends the IDENTIFY response data (after the status byte). It panics on an ID or
// firmware string over 255 bytes.
func AppendIdentity(dst []byte, id Identity) []byte {
	if len(id.ID) > 255 || len(id.Firmware) > 255 {
		panic("board: identity string over 255 bytes")
	}
	dst = append(dst, ProtocolVersion)
	dst = le16(dst, id.Elements)
	dst = append(dst, byte(id.PhaseBits), byte(id.GainBits))
	dst = le16(dst, id.Beams)
	dst = le16(dst, id.MaxSlots)
	dst = le16(dst, id.MaxPayload)
	dst = append(dst, byte(len(id.ID)))
	dst = append(dst, id.ID...)
	dst = append(dst, byte(len(id.Firmware)))
	return append(dst, id.Firmware...)
}

// ParseIdentity parses IDENTIFY response data (after the status byte) and checks it is usable.
func ParseIdentity(p []byte) (Identity, error) {
	const fixed = 1 + 2 + 1 + 1 + 2 + 2 + 2
	if len(p) < fixed+1 {
		return Identity{}, fmt.Errorf("identity: %d bytes, want at least %d", len(p), fixed+1)
	}
	if p[0] != ProtocolVersion {
		return Identity{}, fmt.Errorf("identity: protocol version %d, want %d", p[0], ProtocolVersion)
	}
	id := Identity{
		Elements: u16(p[1:]), PhaseBits: int(p[3]), GainBits: int(p[4]),
		Beams: u16(p[5:]), MaxSlots: u16(p[7:]), MaxPayload: u16(p[9:]),
	}
	rest := p[fixed:]
	n := int(rest[0])
	if len(rest) < 1+n+1 {
		return Identity{}, fmt.Errorf("identity: truncated id at byte %d", fixed)
	}
	id.ID = string(rest[1 : 1+n])
	rest = rest[1+n:]
	m := int(rest[0])
	if len(rest) != 1+m {
		return Identity{}, fmt.Errorf("identity: firmware string of %d bytes in %d", m, len(rest)-1)
	}
	id.Firmware = string(rest[1:])
	switch {
	case id.Elements < 1:
		return Identity{}, fmt.Errorf("identity: %d elements", id.Elements)
	case id.PhaseBits < 1 || id.PhaseBits > 16:
		return Identity{}, fmt.Errorf("identity: %d phase bits, want 1..16", id.PhaseBits)
	case id.GainBits < 0 || id.GainBits > 16:
		return Identity{}, fmt.Errorf("identity: %d gain bits, want 0..16", id.GainBits)
	case id.MaxPayload < 64 || id.MaxPayload > MaxPayload:
		return Identity{}, fmt.Errorf("identity: max payload %d, want 64..%d", id.MaxPayload, MaxPayload)
	}
	return id, nil
}

func le16(dst []byte, v int) []byte { return append(dst, byte(v), byte(v>>8)) }

func u16(p []byte) int { return int(p[0]) | int(p[1])<<8 }

// codesPerFrame is the most codes of bits bits each that fit one frame after a header of hdr bytes, given
// the board's maximum payload.
func codesPerFrame(maxPayload, hdr, bits int) int { return (maxPayload - hdr) * 8 / bits }
