# Gophermart developer commands. Everything also works with plain `go` commands (see README).
GOLANGCI_VERSION ?= v2.15.0
GOBIN ?= $(shell go env GOPATH)/bin
TEST_DSN ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: build run test test-pg e2e fuzz bench bench-micro lint fmt cover clean

build: ## build both binaries into bin/
	CGO_ENABLED=0 go build -o bin/gophermart ./cmd/gophermart
	CGO_ENABLED=0 go build -o bin/accrual ./cmd/accrual

run: ## run gophermart with embedded defaults (SQLite file, built-in accrual)
	go run ./cmd/gophermart

test: ## the whole suite, SQLite always, PostgreSQL when GOPHERMART_TEST_DSN is set
	go test -race -count=1 -tags e2e ./...

test-pg: ## the whole suite against the local PostgreSQL too
	GOPHERMART_TEST_DSN='$(TEST_DSN)' go test -race -count=1 -tags e2e ./...

e2e: ## only the end-to-end tests (real binaries)
	GOPHERMART_TEST_DSN='$(TEST_DSN)' go test -race -count=1 -tags e2e -run 'E2E' ./cmd/...

fuzz: ## a short bounded fuzzing run of the request decoders (FUZZTIME=10s per target)
	bash .ci/fuzz

bench: ## load benchmark of the real binaries on PostgreSQL (docs/BENCHMARKS.md); e.g. BENCH_FLAGS='-duration 10s'
	go run ./cmd/loadgen -dsn '$(TEST_DSN)' $(BENCH_FLAGS)

bench-micro: ## Go micro-benchmarks of the modules (PostgreSQL when reachable)
	GOPHERMART_TEST_DSN='$(TEST_DSN)' go test -run '^$$' -bench . -benchtime 1s ./...

lint: ## golangci-lint (installed on first use)
	@test -x $(GOBIN)/golangci-lint || go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	$(GOBIN)/golangci-lint run ./...

fmt:
	$(GOBIN)/golangci-lint fmt ./...

cover: ## coverage report in coverage.out / coverage.html
	GOPHERMART_TEST_DSN='$(TEST_DSN)' go test -count=1 -tags e2e -coverpkg=./... -coverprofile=coverage.out ./...
	go tool cover -func=coverage.out | tail -n1
	go tool cover -html=coverage.out -o coverage.html

clean:
	rm -rf bin coverage.out coverage.html
