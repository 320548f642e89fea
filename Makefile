# ckpt — `make test` runs every test, `make demo` runs the sample job.
# Both install the Debian and pip packages they need when missing.

SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libopenblas-dev libhdf5-dev zlib1g-dev libjson-c-dev pkg-config hdf5-tools openmpi-bin
PY_MODULES := numpy h5py safetensors xxhash tokenizers transformers
CKPT_DEBUG := .build/debug/ckpt
CKPT_RELEASE := .build/release/ckpt

.PHONY: all deps build release test test-asan test-tsan fuzz fuzz-seeds demo fixtures bench clean

all: build

## Install the system libraries (apt) and the Python readers used by the cross-checks (pip).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@python3 -c "import numpy, h5py, safetensors, xxhash, tokenizers, transformers" 2>/dev/null || \
	  python3 -m pip install -q --disable-pip-version-check $(PY_MODULES)

build: deps
	swift build

release: deps
	swift build -c release

## Unit and end-to-end tests, then the Python cross-checks of ckpt's outputs.
## The suite runs twice: debug (bounds-checked unsafe pointers) and release
## (the optimised code that ships); the cross-checks use the release binary.
test: deps
	swift build --build-tests
	swift test
	swift build -c release -Xswiftc -enable-testing --build-tests
	swift test -c release -Xswiftc -enable-testing --skip-build
	python3 tools/crosscheck.py --ckpt $(CKPT_RELEASE)

## The test suite under address sanitizer (use after free, overflows, leaks
## are reported as failures) and under thread sanitizer (data races in the
## threaded kernels, the trainer's workers, the tokenizer's threads); each in a
## build directory of its own. See docs/fuzzing.md.
test-asan: deps
	swift build --build-tests --sanitize=address --scratch-path .build-asan
	LSAN_OPTIONS="suppressions=$(CURDIR)/tools/sanitizers/lsan.supp:print_suppressions=0 $${LSAN_OPTIONS:-}" \
	  swift test --sanitize=address --scratch-path .build-asan --skip-build --skip MPITests
	# Open MPI frees little at exit, from components it has unloaded by then
	# (unnamed frames no suppression matches): its tests run without leak checks.
	ASAN_OPTIONS="detect_leaks=0 $${ASAN_OPTIONS:-}" \
	  swift test --sanitize=address --scratch-path .build-asan --skip-build --filter MPITests

test-tsan: deps
	swift build --build-tests --sanitize=thread --scratch-path .build-tsan
	# Open MPI's own threads are not instrumented (false reports): its tests are left out.
	TSAN_OPTIONS="halt_on_error=1 $${TSAN_OPTIONS:-}" \
	  swift test --sanitize=thread --scratch-path .build-tsan --skip-build --skip MPITests

## Coverage-guided fuzzing (docs/fuzzing.md): every harness for FUZZ_SECONDS
## under libFuzzer and address sanitizer, from the committed seeds; findings
## land in fuzz-out/crashes/<harness>/. FUZZ_HARNESSES picks some.
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES ?= safetensors shard-index pytorch hdf5 json config tokenizer-json vocab-txt corpus labelled trainer-state
fuzz: deps
	swift build -c release --scratch-path .build-fuzz --product ckpt-fuzz \
	  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DCKPT_LIBFUZZER -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -use-ld=lld
	bash tools/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

## Rebuild the committed seed corpora from the fixtures (the hdf5 seeds of
## other formats need h5py in FIXTURE_PYTHON, the tokenizer-json ones tokenizers
## and sentencepiece).
fuzz-seeds: release
	FIXTURE_PYTHON=$(FIXTURE_PYTHON) bash tools/fuzz/make_seeds.sh $(CKPT_RELEASE)

## The sample job on samples/ (see README).
demo: release
	CKPT=$(CKPT_RELEASE) bash samples/demo.sh

## Regenerate Tests/Fixtures (needs torch, transformers, tokenizers, sentencepiece
## and protobuf, and for the task goldens sentence-transformers and scikit-learn:
## never run in CI). FIXTURE_PYTHON is the Python that has them.
## Order matters: the model goldens reuse the fixtures' tokenizer, the training
## and task goldens the model goldens' weights; the task e2e goldens run ckpt.
FIXTURE_PYTHON ?= python3
fixtures:
	$(FIXTURE_PYTHON) tools/fixtures/make_fixtures.py
	$(FIXTURE_PYTHON) tools/fixtures/make_tokenizer_goldens.py
	$(FIXTURE_PYTHON) tools/fixtures/make_unigram_goldens.py
	$(FIXTURE_PYTHON) tools/fixtures/make_tokenizer_edge_goldens.py
	$(FIXTURE_PYTHON) tools/fixtures/make_model_goldens.py
	$(FIXTURE_PYTHON) tools/fixtures/make_train_goldens.py
	$(FIXTURE_PYTHON) tools/fixtures/make_resize_fixtures.py
	$(FIXTURE_PYTHON) tools/fixtures/make_canonical_fixtures.py
	$(FIXTURE_PYTHON) tools/fixtures/make_torch_fixtures.py
	$(FIXTURE_PYTHON) tools/fixtures/make_tokenizer_training_fixtures.py
	$(FIXTURE_PYTHON) tools/fixtures/make_task_goldens.py
	$(MAKE) release
	$(FIXTURE_PYTHON) tools/fixtures/make_task_e2e.py --ckpt $(CKPT_RELEASE)

## Benchmarks (print the BENCHMARKS.md tables to stdout).
bench: release
	bash bench/convert_bench.sh
	bash bench/bin_bench.sh
	bash bench/tokenize_bench.sh
	bash bench/tokenize_scripts_bench.sh
	bash bench/forward_bench.sh
	bash bench/train_bench.sh
	bash bench/train_e2e_bench.sh
	bash bench/resize_bench.sh
	bash bench/corpus_bench.sh
	bash bench/train_tokenizer_bench.sh
	bash bench/task_bench.sh
	bash bench/mpi_bench.sh
	bash bench/roberta_bench.sh
	bash bench/kernels_bench.sh

clean:
	rm -rf .build .build-asan .build-tsan .build-fuzz demo-out fuzz-out
