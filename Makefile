# nuttx-feed. `make test` is what CI runs (.ci/run).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/nuttx-feed/nuttx-feed/server.Version=$(VERSION)
FUZZTIME ?= 30s

.PHONY: test deps vet build fuzz bench bench-pages bench-api bench-accounts clean

## test: install missing test dependencies, then vet, staticcheck, gofmt and the race-enabled tests
test: deps vet
	$(GO) test -race -count=1 -timeout 30m ./...

## deps: install what the tests need on Debian (apt-get), when missing
deps:
	@./scripts/install-deps.sh

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

## vet: go vet, staticcheck and a gofmt check
vet:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## build: a static binary, ./nuttx-feed
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o nuttx-feed .

## fuzz: run every fuzz target for FUZZTIME each (the network-facing parsers)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseResource$$' -fuzztime $(FUZZTIME) ./webfinger/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSignature$$' -fuzztime $(FUZZTIME) ./activitypub/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeActivity$$' -fuzztime $(FUZZTIME) ./activitypub/
	$(GO) test -run '^$$' -fuzz '^FuzzRemoteDocument$$' -fuzztime $(FUZZTIME) ./activitypub/
	$(GO) test -run '^$$' -fuzz '^FuzzAccept$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzClientAddr$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzFailurePost$$' -fuzztime $(FUZZTIME) ./feed/
	$(GO) test -run '^$$' -fuzz '^FuzzAlertPayload$$' -fuzztime $(FUZZTIME) ./feed/
	$(GO) test -run '^$$' -fuzz '^FuzzParseStatusRequest$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzAppRequest$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzAPIList$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzSiteParse$$' -fuzztime $(FUZZTIME) ./internal/urls/
	$(GO) test -run '^$$' -fuzz '^FuzzDomain$$' -fuzztime $(FUZZTIME) ./internal/urls/
	$(GO) test -run '^$$' -fuzz '^FuzzSearchQuery$$' -fuzztime $(FUZZTIME) ./internal/store/
	$(GO) test -run '^$$' -fuzz '^FuzzHandles$$' -fuzztime $(FUZZTIME) ./internal/handles/
	$(GO) test -run '^$$' -fuzz '^FuzzParseMentions$$' -fuzztime $(FUZZTIME) ./internal/richtext/

## bench: the benchmarks behind docs/BENCHMARKS.md
bench: build
	./bench/run.sh

## bench-pages: the web pages alone (issue 9), on 10,000 posts, 1,600 targets and 2,000 replies
bench-pages: build
	$(GO) run ./bench/pages -bin ./nuttx-feed

## bench-api: the Mastodon API (issue 10): POST statuses to 100 follower servers, an account's 10,000 statuses
bench-api: build
	$(GO) run ./bench/api -bin ./nuttx-feed

## bench-accounts: feed accounts (issue 11): the first GET of 400 new accounts' actors (key generation), p50/p99
bench-accounts:
	$(GO) test -run '^$$' -bench 'BenchmarkFirstFollow$$' -benchtime 2x ./server/

clean:
	rm -rf nuttx-feed bench/out
