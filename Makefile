# The two set-up commands (README.md): `make demo` and `make test`. Both install libssl-dev
# and pkg-config first when they are missing (Debian), then use SwiftPM; `make test` also
# PostgreSQL's server when it is missing.
.PHONY: deps build demo test bench clean

deps:
	@scripts/install-deps.sh

build: deps
	swift build

# A real example end to end: a flow and an agent versioned, labelled, promoted, diffed, audited.
demo: deps
	swift build
	scripts/demo.sh .build/debug/flowstore

# PostgreSQL's backend tests run against a real server: a throwaway cluster started here and
# stopped after, whatever the tests' outcome (scripts/postgres-test-server.sh).
test: deps
	@scripts/postgres-test-server.sh start
	@status=0; FLOWSTORE_TEST_POSTGRES="$$(scripts/postgres-test-server.sh url)" swift test || status=$$?; \
		scripts/postgres-test-server.sh stop; exit $$status

# The benchmark table (docs/performance.md): FlowStore beside git, OpenSSL, Python's rfc8785 and
# canonicaljson, rsync and a hello-world server, in one release-build run of a few minutes.
# `swift run -c release flowstore-bench` alone runs the same without the tools it must install.
bench: deps
	scripts/bench/compare.sh $(BENCH_ARGS)

clean:
	rm -rf .build
