//go:build soapysdr && cgo

package sdr

import (
	"context"
	"log/slog"

	"github.com/cctrack/cctrack/radio/sdr/iq"
)

// openSoapy opens channel 0 of the SoapySDR device q.Addr at the carrier, with the driver's
// default antenna and 0 dB of RX gain.
func openSoapy(ctx context.Context, q IQ, log *slog.Logger) (iq.Source, error) {
	return iq.OpenSoapy(ctx, iq.SoapyConfig{Args: q.Addr, SampleRate: q.SampleRate, Frequency: q.Frequency}, log)
}
