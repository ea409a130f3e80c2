# The two set-up commands (README.md): `make demo` and `make test`. Both install libssl-dev
# and pkg-config first when they are missing (Debian), then use SwiftPM.
.PHONY: deps build demo test bench clean

deps:
	@scripts/install-deps.sh

build: deps
	swift build

# A real example end to end: a flow and an agent versioned, labelled, promoted, diffed, audited.
demo: deps
	swift build
	scripts/demo.sh .build/debug/flowstore

test: deps
	swift test

# The benchmark table (docs/performance.md): FlowStore beside git, OpenSSL, Python's rfc8785 and
# canonicaljson, rsync and a hello-world server, in one release-build run of a few minutes.
# `swift run -c release flowstore-bench` alone runs the same without the tools it must install.
bench: deps
	scripts/bench/compare.sh $(BENCH_ARGS)

clean:
	rm -rf .build
