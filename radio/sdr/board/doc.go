// Package board drives phase-shifter boards over a serial port (github.com/tarm/serial) with the
// framed binary protocol of PROTOCOL.md: sync bytes, sequence number, command, length, payload and a
// CRC-32; ACK/NACK answers; stop-and-wait with bounded retransmissions under the same sequence
// number, which the board answers idempotently.
//
// A Client (Open) programs one board: per-element phase and gain codes (single and bulk, codes
// bit-packed), a beam table and beam selection, a pilot sweep armed as a list of beam indices and
// started by Trigger (the master board's trigger output starts its linked boards' sweeps), state
// read-back and temperature. Every call takes a context; every error is an *Error naming the board
// and the protocol command, wrapping radio.ErrTimeout when the board does not answer in time,
// ErrDisconnected when the port failed or the device went away (the next call reopens it), or the
// board's NACK Status.
//
// The firmware emulator is radio/sdr/board/emu; radio/sdr/board/conntest records and replays serial
// exchanges for regression tests (testdata/session.conntest; `go test -run TestPlayback -update`
// records it again against the emulator).
package board
