# paysuite — the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash

# Every Go module of the workspace, and the services that have a main package.
MODULES   := pkg proto/gen $(patsubst %/go.mod,%,$(wildcard services/*/go.mod))
SERVICES  := $(notdir $(patsubst %/,%,$(dir $(wildcard services/*/cmd/*/main.go))))
SERVICES  := $(foreach s,sandbox order payment notification course gateway,$(if $(wildcard services/$(s)/cmd/$(s)/main.go),$(s)))
PACKAGES  := $(addsuffix /...,$(addprefix ./,$(MODULES)))
# deploy/ only renders and checks manifests (no goroutines of ours): it runs without -race, which
# would otherwise instrument client-go and the operators' API types for minutes on a cold cache.
DEPLOY_PACKAGES := ./deploy/...
TEST_FLAGS ?= -race -count=1 -timeout 20m

# Pinned code generators (`make tools`); buf's registry is never contacted.
TOOLS_BIN := $(CURDIR)/bin/tools
BUF_VERSION := v1.50.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0
GRPC_GATEWAY_VERSION := v2.33.0
GRPCURL_VERSION := v1.9.3

# What needs MariaDB and RabbitMQ runs through ensure-deps.sh: it finds, starts or installs them
# (README, "Two commands"; PAYSUITE_INSTALL=no forbids installing), then runs the command with
# MYSQL_DSN, AMQP_URL and the tests' TEST_* variables pointing at them.
WITH_DEPS := ./scripts/ensure-deps.sh

# The benchmarks behind the README's "Performance" figures, with exactly the parameters it quotes
# (defaults spelled out, so a changed default cannot change the figures behind the README's back).
BENCH_ORDER  := go run ./services/order/cmd/bench -duration 10s -concurrency 64 -skus 1000 -rounds 4 -lateness 10000 -lateness-rate 300
BENCH_NOTIFY := go run ./services/payment/cmd/bench -n 2000 -c 16 -rounds 3 -stats
BENCH_E2E    := go run ./services/payment/cmd/e2ebench -orders 300 -rate 30 -cancel 10000 -cancel-rate 100 -attempt-every 4
BENCH_RECON  := go run ./services/payment/cmd/reconbench -rows 100000 -rounds 3

.PHONY: run test cluster-test bench load chaos deps build vet fmt generate tools grpcurl lint compose-check demo clean

## run: build and start every service in this terminal (Ctrl-C stops all)
run: build
	@$(WITH_DEPS) ./scripts/run.sh $(SERVICES)

## test: every module's tests with -race against the real MariaDB and RabbitMQ
test:
	$(WITH_DEPS) go test $(TEST_FLAGS) $(PACKAGES)
	go test -count=1 $(DEPLOY_PACKAGES)

## cluster-test: two replicas of every service on private 3-node Galera and RabbitMQ clusters
## behind HAProxy, a purchase load while a database node, a broker node and a replica go down,
## then the books checked (README, "Outgrowing one machine"; root, several minutes)
cluster-test:
	./scripts/cluster-test.sh

## bench: the benchmarks that print the README's "Performance" figures (not tests; several minutes)
bench:
	@$(WITH_DEPS) bash -c '$(BENCH_ORDER) && $(BENCH_NOTIFY) && $(BENCH_E2E) && $(BENCH_RECON)'

## load: the suite's binaries on private ports under an open-loop purchase mix through the gateway
## (LOAD_RATE arrivals/s, LOAD_DURATION); prints p50/p99/max per step, purchases/s, cost per
## purchase, notify → effect latency and the invariants (exit 1 if broken), then the anchors on the
## same suite (GetOrder gateway ÷ direct gRPC; CreateOrder gRPC ÷ bare SQL, spread and hot SKU)
## and every ratio together at the end
LOAD_RATE ?= 50
LOAD_DURATION ?= 30s
load: build
	@$(WITH_DEPS) go run ./pkg/cmd/load -rate $(LOAD_RATE) -duration $(LOAD_DURATION)

## chaos: the load on private MariaDB/RabbitMQ instances while services are killed, the servers
## restart, connections are cut and the sandbox misbehaves; then every invariant (exit 1 if broken).
## Size CHAOS_ORDERS (default 5000), schedule CHAOS_SEED. Needs root (it starts mariadbd and a
## RabbitMQ node as their own users) but never touches the shared servers.
CHAOS_ORDERS ?= 5000
CHAOS_SEED ?= 1
chaos: build
	@CHAOS_ORDERS=$(CHAOS_ORDERS) CHAOS_SEED=$(CHAOS_SEED) go run ./pkg/cmd/chaos

## deps: only the set-up of MariaDB and RabbitMQ; writes .paysuite/deps.env
deps:
	@$(WITH_DEPS)

build:
	@mkdir -p bin
	@for s in $(SERVICES); do echo "build $$s"; go build -o bin/$$s ./services/$$s/cmd/$$s || exit 1; done
	@go build -o bin/devenv ./pkg/cmd/devenv
	@go build -o bin/paysuite ./pkg/cmd/paysuite

vet:
	go vet $(PACKAGES) $(DEPLOY_PACKAGES)

fmt:
	gofmt -l -w $$(git ls-files '*.go' | grep -v '\.pb\.')

## generate: regenerate proto/gen from proto/ with the pinned local plugins
generate: tools
	PATH="$(TOOLS_BIN):$$PATH" buf lint
	PATH="$(TOOLS_BIN):$$PATH" buf generate

tools:
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	GOBIN=$(TOOLS_BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS_BIN) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	GOBIN=$(TOOLS_BIN) go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	GOBIN=$(TOOLS_BIN) go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)

## grpcurl: the pinned grpcurl in bin/tools (README: calling a service as admin)
grpcurl:
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

lint: vet
	PATH="$(TOOLS_BIN):$$PATH" buf lint

## compose-check: validate docker-compose.yml without a Docker engine
compose-check:
	docker-compose config -q

demo:
	@./scripts/demo.sh

clean:
	rm -rf bin
