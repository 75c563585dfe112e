# cctrack — run `make help` for the targets.
GO ?= go
PKGS ?= ./...
BENCHCOUNT ?= 6

.PHONY: help test bench lint fuzz run

help: ## list the targets
	@grep -E '^[a-z][a-z/]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

test: bin/influxd ## vet and run every test (what CI runs)
	$(GO) vet $(PKGS)
# The SoapySDR source is cgo behind a build tag: it must compile (libsoapysdr-dev).
	$(GO) vet -tags soapysdr ./radio/sdr/iq/...
	$(GO) test -count=1 -timeout 30m $(PKGS)
# Every fuzzer of the fuzz target, briefly, from its corpus in testdata/fuzz.
	$(MAKE) fuzz FUZZTIME=3s

bench: bin/influxd ## run every benchmark BENCHCOUNT times into bench.txt (compare with benchstat)
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) -timeout 60m $(PKGS) | tee bench.txt

# The telemetry tests run against a real InfluxDB 1.8.10 server (internal/influxtest); it builds from the
# Go module proxy once (about 2 minutes) into bin/, which git ignores.
INFLUXD_MODULE ?= github.com/influxdata/influxdb/cmd/influxd@v1.8.10

bin/influxd: ## build InfluxDB 1.8.10 for the telemetry tests (once, about 2 minutes)
	GOBIN=$(CURDIR)/bin $(GO) install $(INFLUXD_MODULE)

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

# Every fuzzer is listed here (make test runs each for 3s); its corpus lives in the package's testdata/fuzz.
FUZZTIME ?= 30s
fuzz: ## run each fuzzer for FUZZTIME (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzReadPLY$$' -fuzztime $(FUZZTIME) ./sim/scene/
	$(GO) test -run '^$$' -fuzz '^FuzzReadXML$$' -fuzztime $(FUZZTIME) ./sim/scene/
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./internal/npz/
	$(GO) test -run '^$$' -fuzz '^FuzzReadNPY$$' -fuzztime $(FUZZTIME) ./internal/npz/
	$(GO) test -run '^$$' -fuzz '^FuzzParseMeta$$' -fuzztime $(FUZZTIME) ./radio/sdr/iq/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFrame$$' -fuzztime $(FUZZTIME) ./radio/sdr/board/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./configs/
	$(GO) test -run '^$$' -fuzz '^FuzzReadRecord$$' -fuzztime $(FUZZTIME) ./internal/telemetry/
	$(GO) test -run '^$$' -fuzz '^FuzzOpenSpool$$' -fuzztime $(FUZZTIME) ./internal/telemetry/

run: ## the main job: the daemon on the simulated backend with the embedded defaults
	$(GO) run ./cmd/cctrackd
