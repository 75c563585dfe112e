package board

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// The CRC is CRC-32/ISO-HDLC; PROTOCOL.md gives its check value so firmware can verify its own.
func TestCRCCheckValue(t *testing.T) {
	if got := crc32.ChecksumIEEE([]byte("123456789")); got != 0xCBF43926 {
		t.Fatalf("CRC-32 check value %#x, want 0xCBF43926", got)
	}
}

// A known frame, byte for byte: the example in PROTOCOL.md.
func TestAppendFrameExample(t *testing.T) {
	got := AppendFrame(nil, Frame{Seq: 1, Cmd: CmdSelectBeam, Payload: []byte{3, 0}})
	crc := crc32.ChecksumIEEE([]byte{1, CmdSelectBeam, 2, 0, 3, 0})
	want := []byte{0xA5, 0x5A, 1, 6, 2, 0, 3, 0, byte(crc), byte(crc >> 8), byte(crc >> 16), byte(crc >> 24)}
	if !bytes.Equal(got, want) {
		t.Fatalf("frame % x, want % x", got, want)
	}
	if crc != 0x74FA1CEE {
		t.Fatalf("example CRC %#08x changed: update PROTOCOL.md", crc)
	}
}

func TestDecodeFrame(t *testing.T) {
	f1 := AppendFrame(nil, Frame{Seq: 7, Cmd: CmdTrigger})
	f2 := AppendFrame(nil, Frame{Seq: 8, Cmd: CmdSetPhases | RespFlag, Payload: []byte{0, 1, 2}})
	bad := append([]byte(nil), f2...)
	bad[HeaderLen+1] ^= 0x10
	long := []byte{Sync0, Sync1, 0, 0, 0xFF, 0xFF}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name string
		in   []byte
		n    int
		err  error
		seq  uint8
	}{
		{"empty", nil, 0, ErrIncomplete, 0},
		{"garbage", []byte{1, 2, 3}, 3, ErrIncomplete, 0},
		{"garbage then Sync0 kept", []byte{1, 2, Sync0}, 2, ErrIncomplete, 0},
		{"frame", f1, len(f1), nil, 7},
		{"garbage then frame", cat([]byte{0, Sync0, 9}, f1), 3 + len(f1), nil, 7},
		{"frame then more", cat(f2, f1), len(f2), nil, 8},
		{"partial header", f1[:4], 0, ErrIncomplete, 0},
		{"partial payload", f2[:len(f2)-1], 0, ErrIncomplete, 0},
		{"garbage then partial", cat([]byte{7, 7}, f2[:5]), 2, ErrIncomplete, 0},
		{"bad CRC skips one byte", cat(bad, f1), 1, ErrCRC, 8},
		{"length over maximum", cat(long, f1), 1, ErrLength, 0},
	} {
		f, n, err := DecodeFrame(tc.in)
		if err != tc.err || n != tc.n || (tc.err != ErrIncomplete && f.Seq != tc.seq) {
			t.Errorf("%s: (seq %d, n %d, %v), want (seq %d, n %d, %v)", tc.name, f.Seq, n, err, tc.seq, tc.n, tc.err)
		}
	}
}

// Every bit flip of a frame is caught: CRC-32 detects all single-bit errors, and a flip in the sync
// or length bytes makes the frame unrecognisable or incomplete instead.
func TestDecodeFrameSingleBitErrors(t *testing.T) {
	frame := AppendFrame(nil, Frame{Seq: 3, Cmd: CmdLoadBeam, Payload: bytes.Repeat([]byte{0x5A, 0xA5, 0x33}, 100)})
	for bit := range len(frame) * 8 {
		b := append([]byte(nil), frame...)
		b[bit/8] ^= 1 << (bit % 8)
		if _, n, err := DecodeFrame(b); err == nil && n == len(b) {
			t.Fatalf("bit %d flipped: frame accepted", bit)
		}
	}
}

func TestPackCodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for bits := 1; bits <= 16; bits++ {
		for _, n := range []int{0, 1, 7, 8, 9, 100, 401} {
			codes := make([]uint16, n)
			for i := range codes {
				codes[i] = uint16(rng.IntN(1 << bits))
			}
			p := PackCodes(nil, codes, bits)
			if len(p) != PackedLen(n, bits) {
				t.Fatalf("bits %d n %d: %d bytes, want %d", bits, n, len(p), PackedLen(n, bits))
			}
			got := make([]uint16, n)
			UnpackCodes(got, p, bits)
			for i := range codes {
				if got[i] != codes[i] {
					t.Fatalf("bits %d n %d: code %d = %d, want %d", bits, n, i, got[i], codes[i])
				}
			}
		}
	}
	// The layout PROTOCOL.md states: 6-bit codes 1, 2, 3 → bits 000001 000010 000011, LSB first.
	if got := PackCodes(nil, []uint16{1, 2, 3}, 6); !bytes.Equal(got, []byte{0x81, 0x30, 0x00}) {
		t.Fatalf("packed % x, want 81 30 00", got)
	}
}

func TestIdentityRoundTrip(t *testing.T) {
	id := Identity{ID: "bs-7", Elements: 400, PhaseBits: 6, GainBits: 5, Firmware: "1.2.3", Beams: 256, MaxSlots: 4096, MaxPayload: 1024}
	got, err := ParseIdentity(AppendIdentity(nil, id))
	if err != nil || got != id {
		t.Fatalf("ParseIdentity = %+v, %v; want %+v", got, err, id)
	}
	p := AppendIdentity(nil, id)
	for n := range len(p) {
		if _, err := ParseIdentity(p[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
}

// FuzzDecodeFrame: DecodeFrame never panics, consumes a sane count, and a frame it accepts encodes
// back to exactly the bytes it consumed (after any skipped garbage).
func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendFrame(nil, Frame{Seq: 1, Cmd: CmdIdentify}))
	f.Add(AppendFrame([]byte{0, Sync0}, Frame{Seq: 9, Cmd: CmdSetPhases, Payload: []byte{0, 0, 3, 0, 0x81, 0x30, 0}}))
	f.Add([]byte{Sync0, Sync1, 0, 0, 0xFF, 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := DecodeFrame(b)
		if n < 0 || n > len(b) {
			t.Fatalf("n = %d of %d bytes", n, len(b))
		}
		switch err {
		case nil:
			enc := AppendFrame(nil, fr)
			if n < len(enc) || !bytes.Equal(b[n-len(enc):n], enc) {
				t.Fatalf("accepted % x, re-encodes as % x", b[:n], enc)
			}
		case ErrCRC, ErrLength:
			if n == 0 {
				t.Fatal("a bad frame consumed nothing: the caller would loop")
			}
		case ErrIncomplete:
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, n := range []int{100, 400} {
		codes := make([]uint16, n)
		payload := PackCodes(nil, codes, 6)
		buf := make([]byte, 0, MaxPayload+Overhead)
		b.Run(fmt.Sprintf("%delements", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload) + Overhead))
			for b.Loop() {
				buf = AppendFrame(buf[:0], Frame{Seq: 1, Cmd: CmdSetPhases, Payload: payload})
			}
		})
	}
}

func BenchmarkDecodeFrame(b *testing.B) {
	for _, n := range []int{100, 400} {
		frame := AppendFrame(nil, Frame{Seq: 1, Cmd: CmdSetPhases, Payload: PackCodes(nil, make([]uint16, n), 6)})
		b.Run(fmt.Sprintf("%delements", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, _, err := DecodeFrame(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Encoding into a buffer with room, decoding and (un)packing allocate nothing: they run per frame.
func TestFrameNoAllocs(t *testing.T) {
	codes := make([]uint16, 400)
	payload := PackCodes(nil, codes, 6)
	buf := make([]byte, 0, MaxPayload+Overhead)
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendFrame(buf[:0], Frame{Seq: 1, Cmd: CmdSetPhases, Payload: payload})
		if _, _, err := DecodeFrame(buf); err != nil {
			t.Fatal(err)
		}
		payload = PackCodes(payload[:0], codes, 6)
		UnpackCodes(codes, payload, 6)
	}); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}
