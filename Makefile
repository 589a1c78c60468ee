# mtrec build: release (build/release), debug (build/debug), sanitizer (build/asan),
# and a double-precision build of the library (build/dbl) used only by gradient tests.
# Sources are found by wildcard: a new file under src/<stage>/ or tests/test_*.c needs no edit here.
CC      ?= cc
WERROR  ?= $(if $(CI),-Werror,)
WARN    := -Wall -Wextra $(WERROR) -Wno-unused-parameter
# -fno-trapping-math: mtrec never unmasks floating-point exceptions, and without it GCC will not
# turn a select around a float operation into a vector blend (the activation loops stayed
# scalar). It changes no computed value (unlike -ffast-math, which we do not use).
CSTD    := -std=c11 -D_GNU_SOURCE -fopenmp -fno-trapping-math
INC     := -Iinclude -Isrc
LIBS    := -fopenmp -ldnnl -lz -lcjson -lmicrohttpd -lpthread -lm

SRCS    := $(wildcard src/*/*.c)
TESTS   := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))

SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
MODE    ?= release
ifeq ($(MODE),release)
  OPT := -O2 -g -march=x86-64-v3 -DNDEBUG
else ifeq ($(MODE),debug)
  OPT := -O0 -g
else ifeq ($(MODE),asan)
  OPT := -O1 -g $(SANFLAGS)
else ifeq ($(MODE),dbl)
  OPT := -O1 -g -DMT_DOUBLE $(if $(SAN),$(SANFLAGS))
endif
B       := build/$(MODE)$(if $(SAN),-asan)
# the double-precision library the *_dbl tests link (sanitized in the asan build)
DBL_LIB := build/dbl$(if $(filter asan,$(MODE)),-asan)/libmtrec.a
CFLAGS_ALL := $(CSTD) $(WARN) $(OPT) $(INC) $(CFLAGS)
OBJS    := $(patsubst src/%.c,$(B)/obj/%.o,$(SRCS))

.PHONY: all lib cli tests test asan test-asan clean install fuzz bench demo FORCE_FLAGS
all: cli
lib: $(B)/libmtrec.a
cli: $(B)/mtrec

# Everything is rebuilt when the compiler or its flags change (CI=true adds -Werror: objects
# built without it must not hide a warning): this file holds what they were built with, and
# is rewritten only when that differs.
FLAGS_STAMP := $(B)/.cflags
$(FLAGS_STAMP): FORCE_FLAGS
	@mkdir -p $(B)
	@echo '$(CC) $(CFLAGS_ALL)' | cmp -s - $@ || echo '$(CC) $(CFLAGS_ALL)' > $@
FORCE_FLAGS:

# Files compiled for a wider instruction set than the build's, used only where the CPU has it
# (chosen at run time: src/nn/bn_fused.c mt_bn_kernels_avx512, src/nn/matmul.c
# mt_mm_wgrad_kernel and mt_mm_fwd_kernel).
ISA_FLAGS_nn/bn_fused_avx512 := -march=x86-64-v4 -mavx512bf16 -mprefer-vector-width=512
ISA_FLAGS_nn/gemm_wgrad_avx512 := -march=x86-64-v4 -mprefer-vector-width=512
ISA_FLAGS_nn/gemm_fwd_avx512 := -march=x86-64-v4 -mprefer-vector-width=512

$(B)/obj/%.o: src/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(ISA_FLAGS_$*) -MMD -MP -c $< -o $@

$(B)/libmtrec.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/mtrec: cli/mtrec.c $(B)/libmtrec.a $(FLAGS_STAMP)
	$(CC) $(CFLAGS_ALL) $< -o $@ $(B)/libmtrec.a $(LIBS)

# Tests named test_*_dbl.c link the double-precision library (MT_DOUBLE).
$(B)/tests/%: tests/%.c $(wildcard tests/*.h) $(B)/libmtrec.a $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(if $(findstring _dbl,$*),-DMT_DOUBLE) $< -o $@ \
	  $(if $(findstring _dbl,$*),$(DBL_LIB),$(B)/libmtrec.a) $(LIBS)

tests: $(B)/mtrec $(addprefix $(B)/tests/,$(TESTS))
ifneq ($(MODE),dbl)
# The double-precision library is built by a sub-make in MODE=dbl (where this rule is absent,
# so the sub-make builds it from its objects instead of recursing).
$(addprefix $(B)/tests/,$(filter %_dbl,$(TESTS))): $(DBL_LIB)
$(DBL_LIB): FORCE
	@$(MAKE) --no-print-directory MODE=dbl $(if $(filter asan,$(MODE)),SAN=1) lib
FORCE:
endif

# `make test` is the one test command (README, .ci/run): builds and runs every test binary.
# Under the sanitizers, LeakSanitizer skips a libgomp-internal loss (tests/lsan.supp says
# why), which needs full malloc stacks.
SAN_ENV := ASAN_OPTIONS=fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
test: tests
	@$(if $(filter asan,$(MODE)),$(SAN_ENV)) MTREC_BIN=$(B)/mtrec tests/run_tests.sh $(B)

asan:
	@$(MAKE) --no-print-directory MODE=asan tests
test-asan:
	@$(MAKE) --no-print-directory MODE=asan test

# The main job on the built-in default: synthesize live5 data, train DBMTL, evaluate.
DEMO_ROWS ?= 500000
demo: $(B)/mtrec
	@mkdir -p build/live5
	$(B)/mtrec synth --rows $(DEMO_ROWS) --output_path build/live5/train.csv --seed 1
	$(B)/mtrec synth --rows 50000 --output_path build/live5/eval.csv --seed 2
	rm -rf build/live5/model
	$(B)/mtrec train -c examples/live5.config --threads $$(nproc)

PREFIX ?= /usr/local
install: $(B)/libmtrec.a $(B)/mtrec
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m644 $(B)/libmtrec.a $(DESTDIR)$(PREFIX)/lib/
	install -m644 include/mtrec.h $(DESTDIR)$(PREFIX)/include/
	install -m755 $(B)/mtrec $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' mtrec.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mtrec.pc

clean:
	rm -rf build

-include $(wildcard $(B)/obj/*/*.d)
