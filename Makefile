# kx — top-level entry points. CMake does the building; this file only names the jobs.
#   make          build everything (debug, ASan + UBSan) into build/
#   make test     build and run every test through CTest
#   make run      build and start kxd on build/extensions/ in the foreground
#   make bench    optimised build in build-release/ and run the benchmarks
#   make lint     clang-tidy and cppcheck over src/, tools/ and drivers/
#   make install  optimised build (no sanitizers) installed under PREFIX (/usr/local), DESTDIR
BUILD    ?= build
RELEASE  ?= build-release
PREFIX   ?= /usr/local
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
DESTDIR  ?=
CMAKE_FLAGS ?=
ifeq ($(origin CC),default)
CC := clang
endif
export CC

.PHONY: all deps configure release test run bench install lint format clean

all: configure
	flock $(BUILD) cmake --build $(BUILD) -j $(JOBS)

deps:
	@./scripts/deps.sh

# flock: one configure or build of a tree at a time, so `make test` twice at
# once, or beside `make run`, share build/; their tests run side by side.
configure: deps
	@test -f $(BUILD)/CMakeCache.txt || { mkdir -p $(BUILD) && flock $(BUILD) \
	  cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Debug -DKX_SANITIZE=ON $(CMAKE_FLAGS); }

test: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

# As root kxd serves the default socket (/run/kx/kxd.sock) and authenticates
# kexts as Apple does; as another user the build tree can't pass that check
# and /run isn't writable, so it skips it and serves a socket in the build tree.
KXD_RUN_FLAGS := $(if $(filter 0,$(shell id -u)),,--no-auth --socket $(abspath $(BUILD))/kxd.sock)

run: all
	$(BUILD)/kxd --foreground --extensions $(BUILD)/extensions $(KXD_RUN_FLAGS)

release: deps
	@test -f $(RELEASE)/CMakeCache.txt || \
	  cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DKX_SANITIZE=OFF $(CMAKE_FLAGS)
	cmake --build $(RELEASE) -j $(JOBS)

bench: release
	cmake --build $(RELEASE) --target bench-run

# Tools, kxd, kx-host, headers, libkxclient.so, sample kexts, the driver SDK
# (find_package(kx), kx-kmdf.pc, kx-client.pc), man pages, bash completion and the systemd unit
# (naming PREFIX's paths). DESTDIR stages a package.
install: release
	DESTDIR=$(DESTDIR) cmake --install $(RELEASE) --prefix $(PREFIX)

lint: configure
	./scripts/lint.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(RELEASE)
