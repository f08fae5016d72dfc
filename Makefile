# rollbook: `make run` builds the example site and serves it on 127.0.0.1,
# `make test` runs every test.
GO      ?= go
PORT    ?= 1313
BENCH_N ?= 10000
export TESTCONTAINERS_RYUK_DISABLED = true
export TESTCONTAINERS_HOST_OVERRIDE = 127.0.0.1

.PHONY: all build run test vet lint bench fuzz clean example-images argo-controlplane argo-test

all: build

build:
	CGO_ENABLED=0 $(GO) build -o bin/rollbook ./cmd/rollbook
	CGO_ENABLED=0 $(GO) build -o bin/rollbook-agent ./cmd/rollbook-agent

# The example service the checkout and payments plans drill (SPEC 3.1):
# a static binary beside its Dockerfile, and the stable releases' images
# the plans name by tag (their canaries are built from the Dockerfile).
EXAMPLE = cmd/example-orders
example-images:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(EXAMPLE)/example-orders ./$(EXAMPLE)
	docker build -q --build-arg VERSION=5.9.2 -t example-orders:5.9.2 $(EXAMPLE)
	docker build -q --build-arg VERSION=2.3.1 -t example-orders:2.3.1 $(EXAMPLE)
	docker build -q --build-arg VERSION=2.4.0 -t example-orders:2.4.0 $(EXAMPLE)

run: build
	./bin/rollbook serve --port $(PORT)

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: the files above need formatting" && exit 1)

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# The example plans drill the example service's images: a clean clone has
# neither its binary nor its images, so they are made before the tests.
test: vet example-images
	# One package at a time: the drills and browser tests measure real
	# time, and two cores shared with another package's drills skew it.
	$(GO) test -p 1 -count=1 -timeout 30m ./...

bench: build
	$(GO) run ./internal/bench/cmd/sitebench -n $(BENCH_N)
	$(GO) test -run XXX -bench . -benchtime 1x ./internal/analysis/
	BENCH_PLANS=$(BENCH_N) $(GO) test -run XXX -bench 'SearchInBrowser|SearchShare' -benchtime 1x -timeout 30m ./site/
	BENCH_PLANS=$(BENCH_N) $(GO) test -run XXX -bench Reload -benchtime 1x -timeout 30m ./internal/devserver/
	$(GO) test -run XXX -bench BuildIndex -benchtime 1x ./internal/search/

# Every fuzz target of the repository, each by its exact name (the
# root's map_test.go fails when one is missing here).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/alertrule -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/check -run '^$$' -fuzz '^FuzzSaysHowToVerify$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/markdown -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/migrate -run '^$$' -fuzz '^FuzzAnalyze$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/plan -run '^$$' -fuzz '^FuzzCacheRoundTrip$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/plan -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/search -run '^$$' -fuzz '^FuzzTokens$$' -fuzztime $(FUZZTIME)
	$(GO) test ./site -run '^$$' -fuzz '^FuzzCollapseSpace$$' -fuzztime $(FUZZTIME)
	$(GO) test ./site -run '^$$' -fuzz '^FuzzShortSummary$$' -fuzztime $(FUZZTIME)

# The Argo engine's control plane: kube-apiserver,
# kube-controller-manager and the Argo Rollouts controller built from Go
# modules in their own module, with the toolchain its go.mod names (GOTOOLCHAIN
# is set from it: the machine's default, local, would refuse it), beside the
# drill's node agent and traffic-router plugin; etcd is Debian's. Not part of
# `make test`: a cold build is too long for CI's budget (see the README).
ARGO_CP  = internal/argo/controlplane
ARGO_GO  = cd $(ARGO_CP) && CGO_ENABLED=0 GOTOOLCHAIN=$$(sed -n 's/^toolchain //p' go.mod) $(GO)
ARGO_BIN = $(CURDIR)/$(ARGO_CP)/bin
argo-controlplane:
	@command -v etcd >/dev/null || apt-get install -y etcd-server
	$(ARGO_GO) build -trimpath -ldflags='-s -w' -o $(ARGO_BIN)/ \
		k8s.io/kubernetes/cmd/kube-apiserver \
		k8s.io/kubernetes/cmd/kube-controller-manager \
		github.com/argoproj/argo-rollouts/cmd/rollouts-controller \
		./cmd/rollbook-trafficrouter \
		./cmd/rollbook-cluster
	mkdir -p $(ARGO_BIN)/crds
	install -m 0644 "$$($(ARGO_GO) list -m -f '{{.Dir}}' github.com/argoproj/argo-rollouts)"/manifests/crds/*-crd.yaml $(ARGO_BIN)/crds/

# The exported payments plan is what TestExportedPlanRunsInArgo applies.
argo-test: export ROLLBOOK_ARGO_EXPORT = $(ARGO_BIN)/payments-api.argo.yaml
argo-test: argo-controlplane
	$(GO) run ./cmd/rollbook export argo content/payments/api-2-4-canary.md 2>/dev/null > $(ARGO_BIN)/payments-api.argo.yaml
	$(ARGO_GO) vet ./...
	$(ARGO_GO) test -count=1 -timeout 20m -v ./...
	# Gate 3: rollbook gameday run --engine argo on the payments plan.
	CGO_ENABLED=0 $(GO) build -trimpath -o $(EXAMPLE)/example-orders ./$(EXAMPLE)
	ROLLBOOK_ARGO_BIN=$(ARGO_BIN) $(GO) test -tags argo -count=1 -timeout 20m -run TestArgoEngine -v ./cmd/rollbook

clean:
	rm -rf bin public .public.tmp-* $(EXAMPLE)/example-orders $(ARGO_CP)/bin
