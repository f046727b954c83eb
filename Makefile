# Gophermart developer commands. Everything also works with plain `go` commands (see README).
GOLANGCI_VERSION ?= v2.15.0
GOBIN ?= $(shell go env GOPATH)/bin
TEST_DSN ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: help build run test test-pg e2e fuzz bench bench-micro lint fmt cover clean docs-assets

# A bare `make` lists the targets instead of building anything.
.DEFAULT_GOAL := help

help: ## list the targets with what they do
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z0-9_-]+:[^#]*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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

fmt: ## format the code with golangci-lint's formatters (gofumpt, goimports)
	$(GOBIN)/golangci-lint fmt ./...

cover: ## coverage report in coverage.out / coverage.html
	GOPHERMART_TEST_DSN='$(TEST_DSN)' go test -count=1 -tags e2e -coverpkg=./... -coverprofile=coverage.out ./...
	go tool cover -func=coverage.out | tail -n1
	go tool cover -html=coverage.out -o coverage.html

clean: ## remove what the build and coverage targets write
	rm -rf bin coverage.out coverage.html

APIDOC_ASSETS := modules/platform/apidoc/assets
SWAGGER_UI_VERSION ?= $(shell cat $(APIDOC_ASSETS)/VERSION)

docs-assets: ## re-fetch Swagger UI (the /docs page) from npm; e.g. SWAGGER_UI_VERSION=5.36.0
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	tgz=$$(npm pack --loglevel=error --pack-destination "$$tmp" swagger-ui-dist@$(SWAGGER_UI_VERSION)) && \
	tar -xzf "$$tmp/$$tgz" -C "$$tmp" && \
	for f in swagger-ui-bundle.js swagger-ui.css swagger-ui-bundle.js.LICENSE.txt LICENSE NOTICE; do \
		cp "$$tmp/package/$$f" $(APIDOC_ASSETS)/ || exit 1; \
	done && \
	echo $(SWAGGER_UI_VERSION) > $(APIDOC_ASSETS)/VERSION
	@echo "swagger-ui-dist $(SWAGGER_UI_VERSION) is in $(APIDOC_ASSETS); check it: go test ./modules/platform/apidoc/"
