//go:build soapysdr && cgo

package iq

/*
#cgo LDFLAGS: -lSoapySDR
#include <stdlib.h>
#include <SoapySDR/Device.h>
#include <SoapySDR/Formats.h>
#include <SoapySDR/Errors.h>

// read1 reads one channel into buf; the pointer array lives on the C stack, so no Go pointer is ever
// stored in C memory (cgo's pointer rules).
static int read1(SoapySDRDevice *d, SoapySDRStream *s, void *buf, size_t n, int *flags, long long *timeNs, long timeoutUs) {
	void *buffs[1] = {buf};
	return SoapySDRDevice_readStream(d, s, buffs, n, flags, timeNs, timeoutUs);
}

static SoapySDRStream *setupRX(SoapySDRDevice *d, size_t channel) {
	size_t ch[1] = {channel};
	return SoapySDRDevice_setupStream(d, SOAPY_SDR_RX, SOAPY_SDR_CF32, ch, 1, NULL);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unsafe"

	"github.com/cctrack/cctrack/radio"
)

// ErrOverflow is returned (wrapped) when the SDR dropped samples during a read: the window is not
// contiguous and must not be correlated.
var ErrOverflow = errors.New("iq: receiver overflow (samples dropped)")

// SoapyConfig selects and tunes a receive channel of a SoapySDR device.
type SoapyConfig struct {
	// Args are SoapySDR device arguments, e.g. "driver=uhd,serial=3123ABC" or "driver=lime".
	Args       string
	Channel    int
	SampleRate float64 // Hz
	Frequency  float64 // centre frequency, Hz
	Gain       float64 // overall RX gain, dB
	Antenna    string  // "" keeps the driver's default
	// PollTimeout bounds each readStream call, so that a cancelled context is noticed within it;
	// 0 means 100 ms.
	PollTimeout time.Duration
}

// SoapySource receives from a SoapySDR device (build tag soapysdr, Debian's libsoapysdr-dev). It
// streams continuously from OpenSoapy to Close; ReadFull returns the next samples of that stream.
type SoapySource struct {
	cfg    SoapyConfig
	dev    *C.SoapySDRDevice
	stream *C.SoapySDRStream
	log    *slog.Logger
}

var _ Source = (*SoapySource)(nil)

func soapyErr(op string, cfg SoapyConfig) error {
	return fmt.Errorf("iq: soapysdr %q: %s: %s", cfg.Args, op, C.GoString(C.SoapySDRDevice_lastError()))
}

func soapyCode(op string, cfg SoapyConfig, code C.int) error {
	return fmt.Errorf("iq: soapysdr %q: %s: %s (%d)", cfg.Args, op, C.GoString(C.SoapySDR_errToStr(code)), int(code))
}

// OpenSoapy opens the device, tunes the channel and starts streaming; log (nil: discard) gets one
// line when streaming starts. Opening a device is a blocking driver call that ctx cannot interrupt;
// ctx is checked before and after.
func OpenSoapy(ctx context.Context, cfg SoapyConfig, log *slog.Logger) (*SoapySource, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !(cfg.SampleRate > 0) || cfg.Channel < 0 {
		return nil, fmt.Errorf("iq: soapysdr %q: want a positive sample rate and channel >= 0 (got %g, %d)", cfg.Args, cfg.SampleRate, cfg.Channel)
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = 100 * time.Millisecond
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("iq: soapysdr %q: open: %w", cfg.Args, err)
	}
	args := C.CString(cfg.Args)
	defer C.free(unsafe.Pointer(args))
	s := &SoapySource{cfg: cfg, log: log}
	if s.dev = C.SoapySDRDevice_makeStrArgs(args); s.dev == nil {
		return nil, soapyErr("open", cfg)
	}
	ch := C.size_t(cfg.Channel)
	fail := func(err error) (*SoapySource, error) {
		s.Close()
		return nil, err
	}
	if rc := C.SoapySDRDevice_setSampleRate(s.dev, C.SOAPY_SDR_RX, ch, C.double(cfg.SampleRate)); rc != 0 {
		return fail(soapyCode(fmt.Sprintf("set sample rate %g", cfg.SampleRate), cfg, rc))
	}
	if rc := C.SoapySDRDevice_setFrequency(s.dev, C.SOAPY_SDR_RX, ch, C.double(cfg.Frequency), nil); rc != 0 {
		return fail(soapyCode(fmt.Sprintf("set frequency %g", cfg.Frequency), cfg, rc))
	}
	if rc := C.SoapySDRDevice_setGain(s.dev, C.SOAPY_SDR_RX, ch, C.double(cfg.Gain)); rc != 0 {
		return fail(soapyCode(fmt.Sprintf("set gain %g", cfg.Gain), cfg, rc))
	}
	if cfg.Antenna != "" {
		ant := C.CString(cfg.Antenna)
		defer C.free(unsafe.Pointer(ant))
		if rc := C.SoapySDRDevice_setAntenna(s.dev, C.SOAPY_SDR_RX, ch, ant); rc != 0 {
			return fail(soapyCode(fmt.Sprintf("set antenna %q", cfg.Antenna), cfg, rc))
		}
	}
	if s.stream = C.setupRX(s.dev, ch); s.stream == nil {
		return fail(soapyErr("setup stream", cfg))
	}
	if rc := C.SoapySDRDevice_activateStream(s.dev, s.stream, 0, 0, 0); rc != 0 {
		return fail(soapyCode("activate stream", cfg, rc))
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("iq: soapysdr %q: open: %w", cfg.Args, err))
	}
	log.Info("soapysdr streaming", "args", cfg.Args, "channel", cfg.Channel, "rate_hz", cfg.SampleRate,
		"freq_hz", cfg.Frequency, "gain_db", cfg.Gain)
	return s, nil
}

// SampleRate is the configured sample rate.
func (s *SoapySource) SampleRate() float64 { return s.cfg.SampleRate }

// ReadFull reads the next len(dst) samples, polling readStream with PollTimeout so that ctx is
// honoured; a deadline gives an error wrapping radio.ErrTimeout, dropped samples ErrOverflow.
func (s *SoapySource) ReadFull(ctx context.Context, dst []complex64) error {
	for len(dst) > 0 {
		if err := ctx.Err(); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("iq: soapysdr %q: read: %w (%w)", s.cfg.Args, radio.ErrTimeout, err)
			}
			return fmt.Errorf("iq: soapysdr %q: read: %w", s.cfg.Args, err)
		}
		timeout := s.cfg.PollTimeout
		if dl, ok := ctx.Deadline(); ok {
			timeout = max(min(timeout, time.Until(dl)), time.Microsecond)
		}
		var flags C.int
		var timeNs C.longlong
		n := C.read1(s.dev, s.stream, unsafe.Pointer(&dst[0]), C.size_t(len(dst)), &flags, &timeNs, C.long(timeout.Microseconds()))
		switch {
		case n > 0:
			dst = dst[n:]
		case n == 0 || n == C.SOAPY_SDR_TIMEOUT:
		case n == C.SOAPY_SDR_OVERFLOW:
			return fmt.Errorf("iq: soapysdr %q: read: %w", s.cfg.Args, ErrOverflow)
		default:
			return soapyCode("read", s.cfg, n)
		}
	}
	return nil
}

// Close stops the stream and releases the device.
func (s *SoapySource) Close() error {
	var err error
	if s.stream != nil {
		C.SoapySDRDevice_deactivateStream(s.dev, s.stream, 0, 0)
		if rc := C.SoapySDRDevice_closeStream(s.dev, s.stream); rc != 0 {
			err = soapyCode("close stream", s.cfg, rc)
		}
		s.stream = nil
	}
	if s.dev != nil {
		if rc := C.SoapySDRDevice_unmake(s.dev); rc != 0 && err == nil {
			err = soapyCode("close", s.cfg, rc)
		}
		s.dev = nil
	}
	return err
}
