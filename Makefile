# ws-api: build, run and test the nginx module against Debian's nginx.
#
#   make deps    install the Debian packages everything below needs (root)
#   make         build/ngx_http_ws_api_module.so
#   make run     deps, build, then Redis and nginx with conf/ (util/run.sh)
#   make stop    stop what "make run" started
#   make test    deps, build, unit tests and the whole t/ suite
#   make bench   build, then the benchmarks of util/bench.sh (after deps)
#   make fuzz    the libFuzzer targets of t/fuzz/, FUZZ_SECONDS each
#   make deb     the Debian package libnginx-mod-http-ws-api in build/deb/

SHELL       := /bin/bash
NGINX_SRC   ?= /usr/share/nginx/src
BUILD       := build
NGX_BUILD   := $(BUILD)/nginx
MODULE      := $(BUILD)/ngx_http_ws_api_module.so

# The flags Debian builds its nginx with, plus stricter warnings for our
# own files (nginx itself adds -Werror).
CC_OPT      := -g -O2 -fstack-protector-strong -Wformat \
               -Werror=format-security -fPIC -D_FORTIFY_SOURCE=2 \
               -Wextra -Wno-unused-parameter -Wno-sign-compare
LD_OPT      := -Wl,-z,relro -Wl,-z,now -fPIC

SRC         := $(wildcard src/*.c src/*.h)

# Pure logic, free of nginx objects: unit-tested and fuzzed directly.
# Each unit test links the pure sources it tests.
FRAME_SRC   := src/ngx_http_ws_api_frame.c
PARAM_SRC   := src/ngx_http_ws_api_param.c
SCHEMA_SRC  := src/ngx_http_ws_api_schema.c src/ngx_http_ws_api_regex.c \
               $(PARAM_SRC)
JWT_SRC     := src/ngx_http_ws_api_jwt.c
DEF_SRC     := src/ngx_http_ws_api_def.c src/ngx_http_ws_api_policy.c \
               $(SCHEMA_SRC) $(JWT_SRC)
UNIT_SRC    := $(wildcard t/unit/test_*.c)
UNIT_BIN    := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
UNIT_CFLAGS := -g -O1 -Wall -Wextra -Werror -Isrc

# The load client and echo backend of the benchmarks: libc only.
BENCH_BIN   := $(BUILD)/ws-bench

DEB_PKGS    := nginx nginx-dev libjansson-dev libhiredis-dev redis-server \
               redis-tools gcc make perl libprotocol-websocket-perl \
               python3 python3-websockets libio-socket-ssl-perl openssl \
               ssl-cert clang libclang-rt-14-dev haproxy caddy \
               chromium chromium-driver python3-selenium \
               debhelper dpkg-dev fakeroot libpcre2-dev json-schema-test-suite \
               libyaml-dev prometheus

# the AsyncAPI reference parser, for t/80-asyncapi.t (a test tool only,
# installed into build/node, never committed)
ASYNCAPI_PARSER := @asyncapi/parser@3.6.6
NODE_PARSER     := $(BUILD)/node/node_modules/@asyncapi/parser/package.json

# the module with AddressSanitizer and UBSan, for "make test-asan"
ASAN_BUILD  := $(BUILD)/asan
ASAN_MODULE := $(ASAN_BUILD)/ngx_http_ws_api_module.so
ASAN_CC_OPT := $(CC_OPT) -O1 -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_LD_OPT := $(LD_OPT) -fsanitize=address,undefined

# libFuzzer targets of the pure logic (t/fuzz/), built with clang; "make
# unit" builds them too, for t/unit-fuzz-regressions.t, which replays
# their seed corpora and the reproducers kept in t/fuzz/regressions/.
FUZZ_CC      := clang
FUZZ_CFLAGS  := -g -O1 -Wall -Wextra -Werror -Isrc \
                -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all
FUZZ_TARGETS ?= frame def param extract schema jwt
FUZZ_SECONDS ?= 60
FUZZ_BIN     := $(patsubst %,$(BUILD)/fuzz/fuzz_%,frame def param extract \
                    schema jwt)

.PHONY: all deps run stop test unit fuzz clean test-asan bench-tools bench \
        deb node

all: $(MODULE)

$(NGX_BUILD)/objs/Makefile: config
	rm -rf $(NGX_BUILD)
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(NGX_BUILD)
	cd $(NGX_BUILD) && source ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt='$(CC_OPT)' --with-ld-opt='$(LD_OPT)' \
	        --add-dynamic-module=$(CURDIR) > $(CURDIR)/$(BUILD)/configure.log

$(MODULE): $(NGX_BUILD)/objs/Makefile $(SRC)
	$(MAKE) -s -C $(NGX_BUILD) -f objs/Makefile modules
	@# a new file, not the old one rewritten: a running nginx maps it
	cp $(NGX_BUILD)/objs/ngx_http_ws_api_module.so $@.tmp
	mv -f $@.tmp $@

$(ASAN_BUILD)/nginx/objs/Makefile: config
	rm -rf $(ASAN_BUILD)/nginx
	mkdir -p $(ASAN_BUILD)
	cp -r $(NGINX_SRC) $(ASAN_BUILD)/nginx
	cd $(ASAN_BUILD)/nginx && source ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt='$(ASAN_CC_OPT)' --with-ld-opt='$(ASAN_LD_OPT)' \
	        --add-dynamic-module=$(CURDIR) > $(CURDIR)/$(ASAN_BUILD)/configure.log

$(ASAN_MODULE): $(ASAN_BUILD)/nginx/objs/Makefile $(SRC)
	$(MAKE) -s -C $(ASAN_BUILD)/nginx -f objs/Makefile modules
	cp $(ASAN_BUILD)/nginx/objs/ngx_http_ws_api_module.so $@.tmp
	mv -f $@.tmp $@

$(BUILD)/unit/test_frame: $(FRAME_SRC)
$(BUILD)/unit/test_param: $(PARAM_SRC)
$(BUILD)/unit/test_def:   $(DEF_SRC)
$(BUILD)/unit/test_schema: $(SCHEMA_SRC)
$(BUILD)/unit/test_jwt:   $(JWT_SRC)

$(BUILD)/unit/%: t/unit/%.c $(wildcard src/*.h)
	mkdir -p $(BUILD)/unit
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(filter %.c,$(filter-out $<,$^)) \
	    -ljansson -lpcre2-8 -lcrypto -lm

$(BUILD)/fuzz/fuzz_frame:   $(FRAME_SRC)
$(BUILD)/fuzz/fuzz_def:     $(DEF_SRC)
$(BUILD)/fuzz/fuzz_param:   $(PARAM_SRC)
$(BUILD)/fuzz/fuzz_extract: $(PARAM_SRC)
$(BUILD)/fuzz/fuzz_schema:  $(SCHEMA_SRC)
$(BUILD)/fuzz/fuzz_jwt:     $(JWT_SRC)

$(BUILD)/fuzz/fuzz_%: t/fuzz/fuzz_%.c t/fuzz/fuzz.h $(wildcard src/*.h)
	mkdir -p $(BUILD)/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(filter %.c,$(filter-out $<,$^)) \
	    -ljansson -lpcre2-8 -lcrypto -lm

unit: $(UNIT_BIN) $(FUZZ_BIN)

bench-tools: $(BENCH_BIN)

$(BENCH_BIN): util/ws-bench.c
	mkdir -p $(BUILD)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

# Each target from its seed corpus (and what earlier runs found, kept in
# build/fuzz/corpus/), never writing into t/; a finding is left in
# build/fuzz/findings/ and makes the run fail.
fuzz: deps $(FUZZ_BIN)
	@rc=0; \
	for t in $(FUZZ_TARGETS); do \
	    run=$(CURDIR)/$(BUILD)/fuzz/run/$$t; \
	    mkdir -p $$run $(BUILD)/fuzz/corpus/$$t $(BUILD)/fuzz/findings/$$t; \
	    dict=; \
	    if [ -f t/fuzz/$$t.dict ]; then \
	        dict=-dict=$(CURDIR)/t/fuzz/$$t.dict; \
	    fi; \
	    echo "fuzz_$$t: $(FUZZ_SECONDS) s, log in $$run/fuzz-0.log"; \
	    (cd $$run && $(CURDIR)/$(BUILD)/fuzz/fuzz_$$t -jobs=1 -workers=1 \
	        -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	        -artifact_prefix=$(CURDIR)/$(BUILD)/fuzz/findings/$$t/ $$dict \
	        $(CURDIR)/$(BUILD)/fuzz/corpus/$$t $(CURDIR)/t/fuzz/corpus/$$t \
	        > /dev/null 2>&1); \
	    if [ $$? -ne 0 ]; then \
	        rc=1; echo "fuzz_$$t: FINDING in $(BUILD)/fuzz/findings/$$t/"; \
	        grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' \
	            $$run/fuzz-0.log | tail -n 60; \
	    else \
	        grep -E '^#[0-9]+[[:space:]]+DONE|^stat::' $$run/fuzz-0.log; \
	    fi; \
	done; \
	exit $$rc

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	        | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -q --no-install-recommends $$missing; \
	fi

run: deps all
	util/run.sh start

stop:
	util/run.sh stop

node: $(NODE_PARSER)

$(NODE_PARSER):
	@# node and npm: Debian's nodejs and npm unless a node is installed
	command -v npm > /dev/null || (apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	        --no-install-recommends nodejs npm)
	npm install --prefix $(BUILD)/node --ignore-scripts --no-audit \
	    --no-fund --no-save $(ASYNCAPI_PARSER)
	node t/lib/asyncapi_validate.js < /dev/null > /dev/null 2>&1; \
	    test $$? -ne 2

test: deps all unit node
	prove -r t

bench: all bench-tools
	util/bench.sh

# the whole suite against the sanitized module: nginx is started through
# util/asan-nginx, which preloads the sanitizer runtimes; any report fails
test-asan: deps all unit node $(ASAN_MODULE)
	rm -rf $(ASAN_BUILD)/reports && mkdir -p $(ASAN_BUILD)/reports
	rm -rf $(ASAN_BUILD)/tmp && mkdir -p $(ASAN_BUILD)/tmp
	WSAPI_MODULE=$(CURDIR)/$(ASAN_MODULE) \
	WSAPI_NGINX=$(CURDIR)/util/asan-nginx \
	WSAPI_ASAN_REPORTS=$(CURDIR)/$(ASAN_BUILD)/reports \
	WSAPI_TMPDIR=$(CURDIR)/$(ASAN_BUILD)/tmp WSAPI_KEEP=1 \
	WSAPI_TIMEOUT_SCALE=3 \
	    prove -r t
	util/asan-nginx --check $(ASAN_BUILD)/reports $(ASAN_BUILD)/tmp

clean:
	rm -rf $(BUILD)

# the Debian package libnginx-mod-http-ws-api (debian/, dh-sequence-nginx),
# built from a copy of the files git knows (tracked or not ignored) under build/deb/src so that
# nothing is written outside build/; the .deb lands in build/deb/
DEB_DIR     := $(BUILD)/deb

deb: deps
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b \
	    > $(CURDIR)/$(DEB_DIR)/build.log 2>&1 \
	    || { tail -n 40 $(CURDIR)/$(DEB_DIR)/build.log; exit 1; }
	ls $(DEB_DIR)/*.deb
