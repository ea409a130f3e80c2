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

bench: deps
	swift run -c release flowstore-bench

clean:
	rm -rf .build
