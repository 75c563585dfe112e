//go:build !soapysdr || !cgo

package sdr

import (
	"context"
	"errors"
	"log/slog"

	"github.com/cctrack/cctrack/radio/sdr/iq"
)

func openSoapy(context.Context, IQ, *slog.Logger) (iq.Source, error) {
	return nil, errors.New("soapy: this binary was built without SoapySDR (go build -tags soapysdr, with libsoapysdr-dev)")
}
