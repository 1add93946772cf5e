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

$(BUILD)/build.ninja:
	@command -v $(MESON) >/dev/null || { echo "make: $(MESON) not found; run 'make setup' (installs the Debian packages)" >&2; exit 1; }
	$(MESON) setup $(BUILD) --werror

build-asan/build.ninja:
	$(MESON) setup build-asan --werror -Db_sanitize=address,undefined \
	  -Dc_args=-fno-sanitize-recover=all -Db_lundef=false

build-fuzz/build.ninja:
	CC=clang-14 $(MESON) setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
	  -Dc_args=-fno-sanitize-recover=all -Db_lundef=false

# Sources are picked up from lists by existence (fs.exists), which Meson
# evaluates at configure time: reconfigure so new files are seen.
build: $(BUILD)/build.ninja
	$(MESON) setup --reconfigure $(BUILD) >/dev/null
	ninja -C $(BUILD) -j $(JOBS)

demo: setup
	@$(MAKE) --no-print-directory build
	@scripts/demo

check: setup
	@$(MAKE) --no-print-directory build build-asan/build.ninja build-fuzz/build.ninja
	$(MESON) setup --reconfigure build-asan >/dev/null
	ninja -C build-asan -j $(JOBS)
	$(MESON) setup --reconfigure build-fuzz >/dev/null
	ninja -C build-fuzz -j $(JOBS)
	@scripts/check

bench: setup
	$(MESON) setup build-bench --buildtype=release >/dev/null 2>&1 || true
	ninja -C build-bench -j $(JOBS)
	@scripts/bench

fuzz: setup
	@$(MAKE) --no-print-directory build-fuzz/build.ninja
	$(MESON) setup --reconfigure build-fuzz >/dev/null
	ninja -C build-fuzz -j $(JOBS)
	@scripts/fuzz $(FUZZ_SECONDS)

format:
	@scripts/format

format-check:
	@scripts/format --check

install: build
	$(MESON) install -C $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-bench
