package board

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Frame layout (PROTOCOL.md): sync 0xA5 0x5A, seq u8, cmd u8, payload length u16 LE, payload,
// CRC-32/ISO-HDLC (the IEEE 802.3 CRC of hash/crc32) u32 LE over seq, cmd, length and payload.
const (
	Sync0 = 0xA5
	Sync1 = 0x5A
	// HeaderLen is the bytes before the payload: sync (2), seq, cmd, length (2).
	HeaderLen = 6
	// TrailerLen is the CRC after the payload.
	TrailerLen = 4
	// Overhead is the bytes a frame adds to its payload.
	Overhead = HeaderLen + TrailerLen
	// MaxPayload is the protocol's largest payload; a board may declare a smaller one in IDENTIFY.
	// Receivers treat a larger length field as a corrupt header.
	MaxPayload = 1024
)

// Frame is one protocol frame. Responses carry the request's Seq and Cmd|RespFlag, and their
// payload starts with a Status byte.
type Frame struct {
	Seq, Cmd uint8
	Payload  []byte
}

// Decoding errors. DecodeFrame wraps none of them: compare with ==.
var (
	// ErrIncomplete: the buffer holds the start of a frame (or nothing); read more bytes.
	ErrIncomplete = errors.New("board: incomplete frame")
	// ErrCRC: a complete frame whose CRC does not match.
	ErrCRC = errors.New("board: frame CRC mismatch")
	// ErrLength: a header whose length field exceeds MaxPayload.
	ErrLength = errors.New("board: frame length exceeds maximum")
)

// AppendFrame appends f's encoding to dst. It panics on a payload over MaxPayload (a programmer
// error: commands chunk their payloads).
func AppendFrame(dst []byte, f Frame) []byte {
	if len(f.Payload) > MaxPayload {
		panic("board: frame payload over MaxPayload")
	}
	start := len(dst)
	dst = append(dst, Sync0, Sync1, f.Seq, f.Cmd, byte(len(f.Payload)), byte(len(f.Payload)>>8))
	dst = append(dst, f.Payload...)
	return binary.LittleEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start+2:]))
}

// DecodeFrame finds the first frame in b. It returns the frame, with Payload aliasing b, and n, the
// bytes of b consumed: any garbage before the sync bytes plus the frame. On ErrIncomplete, n counts
// only the garbage that can be dropped (the caller keeps b[n:] and reads more). On ErrCRC and
// ErrLength, n ends one byte past the bad frame's sync so that the caller resumes the search there;
// with ErrCRC, f holds the unverified header's Seq and Cmd (a board answers it with StatusBadCRC).
func DecodeFrame(b []byte) (f Frame, n int, err error) {
	i := 0
	for ; i+1 < len(b); i++ {
		if b[i] == Sync0 && b[i+1] == Sync1 {
			break
		}
	}
	if i+1 >= len(b) {
		// Keep a trailing Sync0: it may start a frame.
		if len(b) > 0 && b[len(b)-1] == Sync0 {
			return Frame{}, len(b) - 1, ErrIncomplete
		}
		return Frame{}, len(b), ErrIncomplete
	}
	h := b[i:]
	if len(h) < HeaderLen {
		return Frame{}, i, ErrIncomplete
	}
	plen := int(binary.LittleEndian.Uint16(h[4:6]))
	if plen > MaxPayload {
		return Frame{}, i + 1, ErrLength
	}
	total := HeaderLen + plen + TrailerLen
	if len(h) < total {
		return Frame{}, i, ErrIncomplete
	}
	f = Frame{Seq: h[2], Cmd: h[3], Payload: h[HeaderLen : HeaderLen+plen : HeaderLen+plen]}
	if binary.LittleEndian.Uint32(h[HeaderLen+plen:]) != crc32.ChecksumIEEE(h[2:HeaderLen+plen]) {
		return f, i + 1, ErrCRC
	}
	return f, i + total, nil
}

// PackedLen is the bytes that count codes of bits bits each occupy when packed.
func PackedLen(count, bits int) int { return (count*bits + 7) / 8 }

// PackCodes appends codes packed at bits bits each, LSB first: bit k of code i is bit i·bits+k of
// the packed stream, and bit j of the stream is bit j%8 of byte j/8. Padding bits are 0. Bits of a
// code above bits are dropped (callers validate codes against the board's bits first).
func PackCodes(dst []byte, codes []uint16, bits int) []byte {
	var acc uint32
	nacc := 0
	mask := uint32(1)<<bits - 1
	for _, c := range codes {
		acc |= (uint32(c) & mask) << nacc
		nacc += bits
		for nacc >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			nacc -= 8
		}
	}
	if nacc > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}

// UnpackCodes fills dst from src packed as PackCodes does. It panics when src is shorter than
// PackedLen(len(dst), bits); callers check payload lengths first.
func UnpackCodes(dst []uint16, src []byte, bits int) {
	if len(src) < PackedLen(len(dst), bits) {
		panic("board: UnpackCodes source too short")
	}
	var acc uint32
	nacc := 0
	mask := uint32(1)<<bits - 1
	j := 0
	for i := range dst {
		for nacc < bits {
			acc |= uint32(src[j]) << nacc
			j++
			nacc += 8
		}
		dst[i] = uint16(acc & mask)
		acc >>= bits
		nacc -= bits
	}
}
