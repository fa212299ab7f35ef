# whapidesk — see README.md. Targets: demo, test, test-pg, test-long, check, build, generate, lint, bench, vulncheck.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN     := bin/whapidesk

# make demo listens on WHAPIDESK_ADDR and keeps its data in WHAPIDESK_DB (from the
# environment or the make command line); unset or empty, 127.0.0.1:8080 (this machine
# only: WHAPIDESK_ADDR=:8080 opens it to the network) and data/whapidesk.db.
DEMO_ADDR = $(or $(WHAPIDESK_ADDR),127.0.0.1:8080)
DEMO_DB   = $(or $(WHAPIDESK_DB),data/whapidesk.db)

.PHONY: all build demo run test test-pg test-long generate lint check bench vulncheck clean

all: build

## build: compile the binary into bin/
build:
	@echo "building $(BIN) (version $(VERSION)); the first build compiles SQLite's C code and takes a while ..."
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) .

## demo: the app on SQLite with the built-in WHAPI simulator, a seeded admin and sample customers,
## on $WHAPIDESK_ADDR (default 127.0.0.1:8080) with the database $WHAPIDESK_DB (default data/whapidesk.db)
demo: build
	@echo "starting the demo on $(DEMO_ADDR) with the database $(DEMO_DB) (WHAPIDESK_ADDR and WHAPIDESK_DB change them) ..."
	./$(BIN) demo --db '$(DEMO_DB)' --addr '$(DEMO_ADDR)'

## run: the app against WHAPI itself (configure with WHAPIDESK_* / WHAPI_* variables)
run: build
	./$(BIN) serve

## test: every test, with the race detector, browser tests included. The handlers package walks every
## page in three languages in Chromium: on a busy 2-CPU machine it takes 8-10 minutes, past go test's
## default 10-minute limit, hence -timeout.
test:
	$(GO) test -race -count=1 -timeout 30m ./...

## test-pg: every test again on a throwaway PostgreSQL (scripts/test-pg.sh: initdb into a temporary
## directory, a server on a Unix socket there, removed afterwards; each test gets a schema of its own).
## Without PostgreSQL's server binaries it is skipped, unless CI=true
test-pg:
	scripts/test-pg.sh $(GO) test -race -count=1 -timeout 30m ./...

## test-long: the long tests (build tag "long"): the seeded 1,000-fault campaign, the crash test of
## the real binary (SIGKILL under load, restart, reconcile), the 60 s soak test, and then, on a
## throwaway PostgreSQL (scripts/test-pg.sh), three instances of the binary on one database under
## a 60 s round-robin load with one of them SIGKILLed and restarted; several minutes
test-long:
	$(GO) test -race -count=1 -v -tags long -run '^TestLong' -skip '^TestLongMultiInstance' -timeout 20m ./...
	scripts/test-pg.sh $(GO) test -race -count=1 -v -tags long -run '^TestLongMultiInstance' -timeout 20m .

## generate: regenerate templ components (the generated code is committed)
generate:
	$(GO) tool templ generate

## lint: gofmt, go vet and staticcheck
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet -tags long ./...
	$(GO) tool staticcheck -tags long ./...

## check: generated code in step, lint, then every test
check: generate
	@git diff --exit-code -- '*_templ.go' || { echo "templ output is not committed in step: run make generate and commit"; exit 1; }
	$(MAKE) lint
	$(MAKE) test

## bench: benchmarks (speed and memory targets live here, not in tests): prints one table and
## writes it to docs/benchmarks.md (bench/; about 3-5 minutes, most of it the 200 ms-latency top-up).
## It runs under scripts/test-pg.sh, so that section 6 measures PostgreSQL too (on schemas of its own);
## without PostgreSQL's server binaries it runs on SQLite alone and those rows say "not measured"
## (with CI=true a missing PostgreSQL fails it, as test-pg does)
BENCH_RUN = BENCH_OUT=$(CURDIR)/docs/benchmarks.md $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 15m ./bench/
bench:
	@rm -f .bench-ran
	scripts/test-pg.sh sh -c "$(BENCH_RUN) && touch .bench-ran"
	@test -e .bench-ran || { echo "bench: no PostgreSQL: SQLite only"; $(BENCH_RUN); }
	@rm -f .bench-ran

## vulncheck: known vulnerabilities in dependencies, with govulncheck pinned as a Go tool in go.mod
## (needs its vulnerability database online, so CI, which has no internet, does not run it; see docs/security.md)
vulncheck:
	$(GO) tool govulncheck ./...

clean:
	rm -rf bin
