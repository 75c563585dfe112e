//go:build soapysdr && cgo

package iq

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// Without hardware the real library is still exercised: opening a driver that does not exist fails
// with an error naming the device arguments.
func TestOpenSoapyNoDevice(t *testing.T) {
	_, err := OpenSoapy(context.Background(), SoapyConfig{Args: "driver=cctrack-none", SampleRate: 1e6},
		slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), `"driver=cctrack-none"`) {
		t.Fatalf("got %v", err)
	}
	if _, err := OpenSoapy(context.Background(), SoapyConfig{Args: "x"}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("zero sample rate accepted")
	}
}
