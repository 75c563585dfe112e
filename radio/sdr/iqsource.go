package sdr

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/cctrack/cctrack/radio/sdr/iq"
)

// IQ source kinds.
const (
	IQTCP   = "tcp"   // a raw cf32_le sample stream, Addr HOST:PORT
	IQSigMF = "sigmf" // a SigMF recording, Addr its .sigmf-meta path
	IQSoapy = "soapy" // a SoapySDR device, Addr its arguments (needs the soapysdr build tag)
)

// IQ says where the samples come from.
type IQ struct {
	Kind, Addr string
	SampleRate float64 // Hz
	// Frequency is the carrier (Hz), tuned by a SoapySDR source.
	Frequency float64
}

// ParseIQ reads a source spec: tcp://HOST:PORT, a path ending in .sigmf-meta, or soapy:ARGS.
func ParseIQ(spec string, sampleRate float64) (IQ, error) {
	switch {
	case strings.HasPrefix(spec, "tcp://"):
		addr := strings.TrimPrefix(spec, "tcp://")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return IQ{}, fmt.Errorf("%q: want tcp://HOST:PORT", spec)
		}
		return IQ{Kind: IQTCP, Addr: addr, SampleRate: sampleRate}, nil
	case strings.HasSuffix(spec, ".sigmf-meta"):
		return IQ{Kind: IQSigMF, Addr: spec, SampleRate: sampleRate}, nil
	case strings.HasPrefix(spec, "soapy:"):
		return IQ{Kind: IQSoapy, Addr: strings.TrimPrefix(spec, "soapy:"), SampleRate: sampleRate}, nil
	}
	return IQ{}, fmt.Errorf("%q: want tcp://HOST:PORT, a .sigmf-meta file or soapy:ARGS", spec)
}

// Open opens the source.
func (q IQ) Open(ctx context.Context, log *slog.Logger) (iq.Source, error) {
	switch q.Kind {
	case IQTCP:
		return iq.DialTCP(ctx, q.Addr, q.SampleRate)
	case IQSigMF:
		return iq.OpenSigMF(q.Addr)
	case IQSoapy:
		return openSoapy(ctx, q, log)
	}
	return nil, fmt.Errorf("unknown IQ source kind %q", q.Kind)
}
