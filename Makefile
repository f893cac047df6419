# notify-handler: one flat GNU Makefile. Variants are recursive makes that change variables;
# every output lands in build/<variant>/. `make help` lists the targets.
.DEFAULT_GOAL := all
-include config.mk

VERSION   := 0.1.0
DEPS      := build/deps
BEARSSL   := $(DEPS)/bearssl/src
DEPSTAMP  := $(DEPS)/.ready
PYTEST    ?= /usr/bin/python3 -m pytest
CLANG     ?= clang-14

# Defaults: the dev variant (host cc, glibc). Variants below override B, CC, OPT, EXTRA_CFLAGS,
# EXTRA_LDFLAGS. CC: make predefines it (origin "default"), so `CC ?= cc` would never apply; a CC
# from the environment or the command line is kept.
B         ?= build/dev
ifeq ($(origin CC),default)
CC        := cc
endif
BRLIB     ?= $(BEARSSL)/build-host/libbearssl.a
OPT       ?= -O2 -g
WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla
CPPFLAGS  := -Iinclude -I$(DEPS)/include -I$(BEARSSL)/inc -D_GNU_SOURCE \
             -DNOTIFY_VERSION='"$(VERSION)"'
# The project's flags always apply; a CFLAGS or LDFLAGS of the user's (environment or command
# line) is added after them, so it can add or override an option but never drops -std=c11 or
# the warnings.
ALL_CFLAGS = -std=c11 $(OPT) $(WARN) $(EXTRA_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(EXTRA_LDFLAGS) $(LDFLAGS)
LDLIBS    := -lpthread

SRCS      := $(wildcard src/*.c)
LIBSRCS   := $(filter-out src/main.c,$(SRCS))
OBJS      := $(SRCS:src/%.c=$(B)/obj/%.o)
LIBOBJS   := $(LIBSRCS:src/%.c=$(B)/obj/%.o) $(B)/obj/gen/ta.o
UNITS     := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZERS   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps sdk static asan run test unit integration fuzz fuzz-build fuzz-replay fuzz-run \
        bench nomalloc fmt lint clean help unit-build tfcheck zip kql-check image size size-check

all: $(DEPSTAMP)
	@$(MAKE) --no-print-directory $(B)/handler

help:
	@echo "make            dev build (host cc, glibc): build/dev/handler"
	@echo "make static     shipped binary (musl, static, stripped): build/static/handler"
	@echo "make run        build the static binary and serve on PORT (default 8080), outbox mode"
	@echo "make test       size budget, unit (ASan+UBSan), integration (static and ASan), fuzz"
	@echo "                replay+smoke, nomalloc, tfcheck (with the podman image), kql-check"
	@echo "make unit       build the unit tests with ASan+UBSan and run them (make unit-build: build only)"
	@echo "make fuzz       build libFuzzer targets; make fuzz-run T=<target> SECS=60"
	@echo "make size       stripped size, each part's share (link map), each optional piece's cost"
	@echo "make bench      every peer (C, Go, Python, Node+SDK) through TLS, outbox peers, images,"
	@echo "                charts -> tests/bench/; BENCH_QUICK=1 make bench: a trial into build/bench/"
	@echo "make nomalloc   prove no object but main.o references malloc/free"
	@echo "make tfcheck    offline Terraform/Docker/deploy-script checks, empty-root run"
	@echo "make image      container image from the Dockerfile with podman, from build/static/handler"
	@echo "make zip        deploy ZIPs: build/notify-handler.zip, build/notify-handler-http.zip"
	@echo "make fmt        clang-format -i every C file; make clean"

deps: $(DEPSTAMP)
$(DEPSTAMP): scripts/deps.sh
	@sh scripts/deps.sh $(DEPS)
	@touch $@

$(B)/obj/%.o: src/%.c | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Trust anchors: certs/*.pem -> C arrays by our own generator (tools/ta2c.c, host cc), at
# build time into build/<variant>/gen/; nothing generated is committed.
HOSTCC    ?= cc
TA2C      := build/tools/ta2c
CERTS     := $(sort $(wildcard certs/*.pem))
$(TA2C): tools/ta2c.c | $(DEPSTAMP)
	@mkdir -p $(@D)
	$(HOSTCC) -O2 -Wall -Wextra -I$(BEARSSL)/inc $< $(BEARSSL)/build-host/libbearssl.a -o $@
# The names of certs/*.pem in a file rewritten only when they change, so that removing a root
# regenerates the anchors as adding one does.
$(B)/gen/certs.list: FORCE
	@mkdir -p $(@D)
	@echo '$(CERTS)' | cmp -s - $@ || echo '$(CERTS)' > $@
FORCE:
.PHONY: FORCE
$(B)/gen/ta.c: $(TA2C) $(CERTS) $(B)/gen/certs.list
	@mkdir -p $(@D)
	$(TA2C) $(CERTS) > $@.tmp && mv $@.tmp $@
$(B)/obj/gen/ta.o: $(B)/gen/ta.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(B)/libnotify.a: $(LIBOBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/handler: $(B)/obj/main.o $(B)/libnotify.a $(BRLIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(B)/obj/main.o $(B)/libnotify.a $(BRLIB) $(LDLIBS) -o $@

# ---- variants ---------------------------------------------------------------------------------
# The shipped binary's link flags; `make size` relinks its objects with the same ones. The link
# also writes its map (build/static/handler.map), which `make size` reads.
STATIC_LDFLAGS := -static -Wl,--gc-sections -Wl,-z,noseparate-code -s
static: $(DEPSTAMP)
	@# the link map is written by the link: a binary without one (an older build) is relinked
	@[ -f build/static/handler.map ] || rm -f build/static/handler
	@$(MAKE) --no-print-directory B=build/static CC=musl-gcc \
	  BRLIB=$(BEARSSL)/build-musl/libbearssl.a \
	  OPT="-Oz -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables" \
	  EXTRA_LDFLAGS="$(STATIC_LDFLAGS) -Wl,-Map=build/static/handler.map" build/static/handler
	@file build/static/handler | grep -q 'statically linked' || \
	  { echo "build/static/handler is not static" >&2; exit 1; }
	@if readelf -d build/static/handler 2>/dev/null | grep -q NEEDED; then \
	  echo "build/static/handler needs shared libraries" >&2; exit 1; fi
	@echo "build/static/handler: static, stripped, $$(stat -c %s build/static/handler) bytes"

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
asan: $(DEPSTAMP)
	@$(MAKE) --no-print-directory B=build/asan OPT="-O1 -g" EXTRA_CFLAGS="$(SAN)" \
	  EXTRA_LDFLAGS="$(SAN)" build/asan/handler unit-build

# ---- tests ------------------------------------------------------------------------------------
# unit-build builds the unit test binaries of variant B; `make unit` builds them with ASan+UBSan
# and runs them (what CI runs). Each binary gets a dependency file, so editing a header it
# includes (tests/unit/testutil.h, include/*.h) rebuilds it.
unit-build: $(UNITS:%=$(B)/%)
$(B)/test_%: tests/unit/test_%.c $(B)/libnotify.a
	$(CC) $(CPPFLAGS) -Itests/unit $(ALL_CFLAGS) $(ALL_LDFLAGS) -MMD -MP -MF $@.d -MT $@ \
	  $(filter %.c,$^) $(filter %.a,$^) $(BRLIB) -lcmocka $(LDLIBS) -o $@

export ASAN_OPTIONS := detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

unit: asan
	@set -e; for t in $(UNITS); do echo "== $$t"; build/asan/$$t; done

# The official ACS SDK (npm) is the oracle the TLS mock of ACS is checked against.
SDKSTAMP := tests/sdk/node_modules/.package-lock.json
sdk: $(SDKSTAMP)
$(SDKSTAMP): tests/sdk/package.json tests/sdk/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/sdk --no-audit --no-fund \
	  --loglevel=error; else echo "npm missing: the ACS SDK oracle tests will be skipped" >&2; fi

integration: static asan sdk
	NOTIFY_BIN=build/static/handler $(PYTEST) -q tests/integration
	NOTIFY_BIN=build/asan/handler NOTIFY_SKIP_ORACLE=1 $(PYTEST) -q tests/integration

# Offline checks of the Azure side and the container files: Terraform (parsed by @cdktf/hcl2json
# from npm), infra/apply and infra/destroy, compose.yaml, Dockerfile, and the static binary on an
# empty root filesystem.
INFRASTAMP := tests/infra/node_modules/.package-lock.json
$(INFRASTAMP): tests/infra/package.json tests/infra/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/infra --no-audit --no-fund \
	  --loglevel=error; else echo "npm missing: the Terraform checks will be skipped" >&2; fi

tfcheck: static $(INFRASTAMP)
	$(PYTEST) -q tests/infra

# The deploy ZIPs (infra/functions: payload mode with the queue; infra/functions-http: one
# forwarded HTTP function): reproducible, handler 0755, fixed times, sorted entries.
zip: static
	@sh scripts/zip.sh build/notify-handler.zip build/static/handler infra/functions
	@sh scripts/zip.sh build/notify-handler-http.zip build/static/handler infra/functions-http

# The container image (podman), from the Dockerfile with its builder stage replaced by the binary
# `make static` made (scripts/image.sh); tests/infra/test_image.py runs it (make tfcheck).
IMAGE ?= localhost/notify-handler:$(VERSION)
image: static
	@sh scripts/image.sh build/static/handler $(IMAGE) | \
	  { read -r id; read -r size; echo "$(IMAGE): image $$id, $$size bytes"; }

# The KQL of infra/kql parsed and checked against the Log Analytics table columns offline
# (@kusto/language-service-next from npm).
KQLSTAMP := build/kql-check/node_modules/.package-lock.json
$(KQLSTAMP): infra/kql/check/package.json infra/kql/check/package-lock.json
	@mkdir -p build/kql-check && cp $^ build/kql-check/
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix build/kql-check --no-audit \
	  --no-fund --loglevel=error; else echo "npm missing: KQL checks skipped" >&2; fi
kql-check: $(KQLSTAMP)
	@if [ -d build/kql-check/node_modules ]; then node infra/kql/check/check.js infra/kql/*.kql; fi

test: size-check unit integration fuzz-replay nomalloc tfcheck kql-check

# ---- fuzzing ----------------------------------------------------------------------------------
FUZZFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
fuzz: fuzz-build
fuzz-build: $(DEPSTAMP)
	@$(MAKE) --no-print-directory B=build/fuzz CC=$(CLANG) OPT="-O1 -g" \
	  EXTRA_CFLAGS="$(FUZZFLAGS)" $(FUZZERS:%=build/fuzz/fuzz_%)
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libnotify.a
	$(CLANG) $(CPPFLAGS) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -MMD -MP -MF $@.d \
	  -MT $@ $(filter %.c,$^) $(filter %.a,$^) $(BRLIB) -o $@

# Replays every regression file and seed through each target, then fuzzes each for FUZZ_SMOKE s.
FUZZ_SMOKE ?= 10
fuzz-replay: fuzz-build
	@set -e; for t in $(FUZZERS); do \
	  files=$$(ls tests/fuzz/regress/$$t/* tests/fuzz/corpus/$$t/* 2>/dev/null || true); \
	  echo "== fuzz $$t: replay $$(echo $$files | wc -w) files"; \
	  [ -z "$$files" ] || build/fuzz/fuzz_$$t $$files >/dev/null 2>build/fuzz/$$t.replay.log || \
	    { cat build/fuzz/$$t.replay.log; exit 1; }; \
	  mkdir -p build/fuzz/corpus-$$t; \
	  echo "== fuzz $$t: $(FUZZ_SMOKE) s smoke run"; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SMOKE) -max_len=65536 \
	    $$( [ -f tests/fuzz/$$t.dict ] && echo -dict=tests/fuzz/$$t.dict ) \
	    build/fuzz/corpus-$$t tests/fuzz/corpus/$$t >build/fuzz/$$t.smoke.log 2>&1 || \
	    { tail -50 build/fuzz/$$t.smoke.log; exit 1; }; \
	  grep -E '^Done|#[0-9]+.*DONE' build/fuzz/$$t.smoke.log | tail -1; \
	done

T ?= http_request
SECS ?= 60
fuzz-run: fuzz-build
	build/fuzz/fuzz_$(T) -max_total_time=$(SECS) $$( [ -f tests/fuzz/$(T).dict ] && \
	  echo -dict=tests/fuzz/$(T).dict ) tests/fuzz/corpus/$(T)

# ---- checks and tools -------------------------------------------------------------------------
# No object but main.o may reference the allocator: everything else runs on caller memory.
nomalloc: all
	@bad=0; for o in $(LIBOBJS); do \
	  if nm -u $$o | grep -Eqw 'malloc|calloc|realloc|free|strdup|reallocarray|aligned_alloc'; then \
	    echo "nomalloc: $$o references the allocator:" >&2; \
	    nm -u $$o | grep -Ew 'malloc|calloc|realloc|free|strdup|reallocarray|aligned_alloc' >&2; \
	    bad=1; fi; done; \
	  [ $$bad = 0 ] && echo "nomalloc: ok ($(words $(LIBOBJS)) objects, only main.o allocates)"
	@# The shipped binary links no allocator at all: main.o maps its one region with mmap.
	@$(MAKE) --no-print-directory static >/dev/null
	@musl-gcc -static -Wl,--gc-sections build/static/obj/main.o build/static/libnotify.a \
	  $(BEARSSL)/build-musl/libbearssl.a -lpthread -o build/static/handler.syms
	@if nm build/static/handler.syms | grep -Eqw 'malloc|calloc|realloc|free'; then \
	  echo "nomalloc: the static binary links the allocator" >&2; exit 1; fi; \
	  echo "nomalloc: the static binary links no malloc, calloc, realloc or free"

run: static
	build/static/handler

bench: static
	bash tests/bench/run.sh

# Size: the stripped binary and each part's share from the link map (our modules by object,
# BearSSL's parts by source directory, musl), then what each optional piece costs (the same
# objects relinked without it); both tables also go into tests/bench/RESULTS.md.
SIZEPY := python3 tests/bench/size.py
SIZE_RESULTS ?= tests/bench/RESULTS.md
size: static
	@[ build/static/handler.map -nt build/static/obj/main.o ] || \
	  { rm -f build/static/handler; $(MAKE) --no-print-directory static >/dev/null; }
	@$(SIZEPY) report --map build/static/handler.map --bin build/static/handler \
	  --results $(SIZE_RESULTS)
	@echo
	@$(SIZEPY) variants --out build/size --cc musl-gcc --ldflags "$(STATIC_LDFLAGS)" \
	  --results $(SIZE_RESULTS) -- build/static/obj/main.o build/static/libnotify.a \
	  $(BEARSSL)/build-musl/libbearssl.a -lpthread

# The size budget: build/static/handler may not exceed the one number in tests/bench/size-budget.
size-check: static
	@$(SIZEPY) check --bin build/static/handler --budget tests/bench/size-budget

fmt:
	clang-format -i $(wildcard src/*.c include/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c \
	  tests/bench/*.c tools/*.c)

lint:
	clang-tidy $(SRCS) -- $(CPPFLAGS) -std=c11

clean:
	rm -rf build/dev build/static build/asan build/fuzz build/bench build/zip build/tools build/size \
	  build/notify-handler.zip build/notify-handler-http.zip build/kql-check

-include $(OBJS:.o=.d) $(UNITS:%=$(B)/%.d) $(wildcard build/fuzz/fuzz_*.d)
