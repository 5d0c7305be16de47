# ws-api: build, run and test the nginx module against Debian's nginx.
#
#   make deps    install the Debian packages everything below needs (root)
#   make         build/ngx_http_ws_api_module.so
#   make run     deps, build, then Redis and nginx with conf/ (util/run.sh)
#   make stop    stop what "make run" started
#   make test    deps, build, unit tests and the whole t/ suite

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
DEF_SRC     := src/ngx_http_ws_api_def.c $(PARAM_SRC)
UNIT_SRC    := $(wildcard t/unit/test_*.c)
UNIT_BIN    := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
UNIT_CFLAGS := -g -O1 -Wall -Wextra -Werror -Isrc

DEB_PKGS    := nginx nginx-dev libjansson-dev libhiredis-dev redis-server \
               redis-tools gcc make perl libprotocol-websocket-perl \
               python3 python3-websockets libio-socket-ssl-perl openssl \
               ssl-cert

# the module with AddressSanitizer and UBSan, for "make test-asan"
ASAN_BUILD  := $(BUILD)/asan
ASAN_MODULE := $(ASAN_BUILD)/ngx_http_ws_api_module.so
ASAN_CC_OPT := $(CC_OPT) -O1 -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_LD_OPT := $(LD_OPT) -fsanitize=address,undefined

.PHONY: all deps run stop test unit clean test-asan

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

$(BUILD)/unit/%: t/unit/%.c $(wildcard src/*.h)
	mkdir -p $(BUILD)/unit
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(filter %.c,$(filter-out $<,$^)) \
	    -ljansson -lm

unit: $(UNIT_BIN)

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

test: deps all unit
	prove -r t

# the whole suite against the sanitized module: nginx is started through
# util/asan-nginx, which preloads the sanitizer runtimes; any report fails
test-asan: deps all unit $(ASAN_MODULE)
	rm -rf $(ASAN_BUILD)/reports && mkdir -p $(ASAN_BUILD)/reports
	WSAPI_MODULE=$(CURDIR)/$(ASAN_MODULE) \
	WSAPI_NGINX=$(CURDIR)/util/asan-nginx \
	WSAPI_ASAN_REPORTS=$(CURDIR)/$(ASAN_BUILD)/reports \
	WSAPI_TIMEOUT_SCALE=3 \
	    prove -r t
	util/asan-nginx --check $(ASAN_BUILD)/reports

clean:
	rm -rf $(BUILD)
