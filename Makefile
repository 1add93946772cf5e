# Thin wrapper over Meson. The README's two commands are `make demo` and
# `make check`; the rest are for developers.
#
# Only `make setup`, `make demo`, `make check`, `make bench` and `make fuzz`
# run scripts/setup (which may call apt-get); `make` / `make build` only
# configure and build, and say what is missing instead of installing it.
MESON ?= meson
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all setup build demo check bench fuzz format format-check install clean

all: build

setup:
	@scripts/setup

# build/, build-asan/ and build-fuzz/ are test trees: they carry the test-only
# --hostile-host (meson_options.txt). `make install` builds build-release/,
# whose keep has none.
TEST_OPTIONS = -Dhostile_host=true

$(BUILD)/build.ninja:
	@command -v $(MESON) >/dev/null || { echo "make: $(MESON) not found; run 'make setup' (installs the Debian packages)" >&2; exit 1; }
	$(MESON) setup $(BUILD) --werror $(TEST_OPTIONS)

build-asan/build.ninja:
	$(MESON) setup build-asan --werror $(TEST_OPTIONS) -Db_sanitize=address,undefined \
	  -Dc_args=-fno-sanitize-recover=all -Db_lundef=false

build-fuzz/build.ninja:
	CC=clang-14 $(MESON) setup build-fuzz $(TEST_OPTIONS) -Dfuzz=true -Db_sanitize=address,undefined \
	  -Dc_args=-fno-sanitize-recover=all -Db_lundef=false

build-release/build.ninja:
	$(MESON) setup build-release --werror --buildtype=release

# Every source is listed explicitly (files()); ninja re-runs Meson itself
# when a meson.build changes, so no reconfigure is needed here.
build: $(BUILD)/build.ninja
	ninja -C $(BUILD) -j $(JOBS)

demo: setup
	@$(MAKE) --no-print-directory build
	@scripts/demo

check: setup
	@$(MAKE) --no-print-directory build build-asan/build.ninja build-fuzz/build.ninja
	@# Trees configured before the option existed get it too.
	for d in $(BUILD) build-asan build-fuzz; do $(MESON) configure $$d $(TEST_OPTIONS) || exit 1; done
	ninja -C $(BUILD) -j $(JOBS)
	ninja -C build-asan -j $(JOBS)
	ninja -C build-fuzz -j $(JOBS)
	@scripts/check

bench: setup
	$(MESON) setup build-bench --buildtype=release >/dev/null 2>&1 || true
	ninja -C build-bench -j $(JOBS)
	@scripts/bench

fuzz: setup
	@$(MAKE) --no-print-directory build-fuzz/build.ninja
	ninja -C build-fuzz -j $(JOBS)
	@scripts/fuzz $(FUZZ_SECONDS)

format:
	@scripts/format

format-check:
	@scripts/format --check

install: build-release/build.ninja
	ninja -C build-release -j $(JOBS)
	$(MESON) install -C build-release

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-bench build-release
