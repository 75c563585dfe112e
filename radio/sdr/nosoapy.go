//go:build !soapysdr

package sdr

import (
	"context"
	"errors"

	"github.com/cctrack/cctrack/radio/sdr/iq"
)

func openSoapy(context.Context, IQ) (iq.Source, error) {
	return nil, errors.New("soapy: this binary was built without SoapySDR (go build -tags soapysdr, with libsoapysdr-dev)")
}
