# pskprov: the two commands that matter are `make demo` and `make check`.
# Each installs missing Debian packages (scripts/deps.sh), builds and runs.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECS  ?= 10
DEMO_DEVICES ?= 100
CMAKE_GEN  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
# Warnings are errors in the builds made here (developers, CI); CMake alone leaves them
# warnings, so a packager's different compiler or flags never break the build.
WERROR     ?= -DPSKPROV_WERROR=ON
PREFIX     ?= /usr/local
DESTDIR    ?=
PKG_BUILD  ?= build-package

.PHONY: all deps build install package check unit asan fuzz-smoke lint format format-check banned funclen demo tour bench clean engine-graph soak

all: build

deps:
	@sh scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(WERROR)
	cmake --build $(BUILD) -j $(JOBS)

# make install [DESTDIR=/tmp/stage] [PREFIX=/usr/local]: the program, man pages, bash
# completion, systemd units and the example config (CMakeLists.txt, "Installation").
install: build
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD) -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# The Debian package (debian/), built with Debian's default flags from a copy of the
# tree in $(PKG_BUILD)/ (the checkout stays clean), without running the tests (check
# does), then checked by lintian: an error fails.
package: deps
	rm -rf $(PKG_BUILD) && mkdir -p $(PKG_BUILD)/src
	git ls-files -z --cached --others --exclude-standard | \
	  tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C $(PKG_BUILD)/src
	cd $(PKG_BUILD)/src && DEB_BUILD_OPTIONS="nocheck parallel=$(JOBS)" \
	  dpkg-buildpackage -b -us -uc
	lintian --fail-on error --display-info $(PKG_BUILD)/pskprov_*.changes
	@ls -l $(PKG_BUILD)/*.deb

# Unit and integration tests on the normal build, with a throwaway PostgreSQL 15
# cluster on loopback for the PostgreSQL store tests (scripts/pg-test.sh starts it and
# always stops it).
unit: build
	sh scripts/pg-test.sh run sh -c 'cd $(BUILD) && ctest --output-on-failure -j $(JOBS)'

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DPSKPROV_SANITIZE=ON $(WERROR)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	sh scripts/pg-test.sh run sh -c 'cd $(ASAN_BUILD) && \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)'


# A short libFuzzer run of every parser, from its seed corpus.
fuzz-smoke: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DPSKPROV_FUZZ=ON $(WERROR)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECS=$(FUZZ_SECS) sh scripts/fuzz-smoke.sh

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@sh scripts/format-check.sh

banned:
	@sh scripts/banned.sh

# Information, never a failure: functions over 80 lines, and what the uncommitted
# change repeats (only where the `duplicates` tool is installed).
funclen:
	@python3 scripts/funclen.py --max 80 lib src
	@if command -v duplicates >/dev/null 2>&1; then duplicates --change; \
	else echo "funclen: duplicates not installed, repetition report skipped"; fi

lint: format-check banned funclen

check: lint unit asan fuzz-smoke
	@echo "check: all passed"

# The whole story: keys, the server, a fleet of emulated devices, a summary.
demo: build
	$(BUILD)/pskprov demo --devices $(DEMO_DEVICES)

# A walk through the key and USB commands.
tour: build
	sh scripts/demo.sh $(BUILD)/pskprov

bench: build
	sh scripts/bench.sh $(BUILD)

# The attacks of docs/threat-model.md together against a fleet, for SOAK_SECS seconds
# (default 180); prints what held. Not part of check.
soak: build
	bash scripts/soak.sh $(BUILD)/pskprov

# The provisioning engine's table as a picture (docs/provisioning-engine.dot); a unit
# test fails when the checked-in file is not what the table draws.
engine-graph: build
	$(BUILD)/prov_dot > docs/provisioning-engine.dot

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(PKG_BUILD)
