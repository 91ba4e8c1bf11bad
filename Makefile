# morphd — the two commands a new machine needs:
#   make run    install what is missing, build the two programs it runs (morphd, morph; not the
#               tests, benchmarks or fuzz targets), start redis + morphd worker + morphd api on
#               127.0.0.1 (deploy/run-local.sh; Ctrl-C stops them) and print how to submit a job
#   make test   install what is missing, test packages included (node, npm, redis-server, clang,
#               buildah, debootstrap) before the first build, build (plain, ASan+UBSan, fuzz,
#               ThreadSanitizer), run every test (the TSan tree: label tsan), the container
#               images' build and smoke test last (label image; it skips when not root)
#   make image  build the container images morphd:cpu and morphd:cuda with buildah (as root;
#               no Docker, no registry: deploy/build-image.sh)
# Plain `cmake` works too; this file only strings the steps together.

BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_FUZZ  ?= build-fuzz
BUILD_TSAN  ?= build-tsan
JOBS        ?= $(shell nproc)
SAMPLE_DIR  ?= $(BUILD)/sample
RUN_OUT     ?= out/sample
RUN_DATA    ?= out/run

.PHONY: all deps test-deps build build-programs build-tests build-asan build-fuzz run morph-sample \
        test test-unit test-asan test-fuzz test-tsan test-image image soak bench clean format

all: build

deps:
	@deploy/install-deps.sh

test-deps:
	@deploy/install-deps.sh --test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Only the programs `make run` and `make morph-sample` start: a newcomer's first answer should
# not wait for every test, benchmark and fuzz target.
build-programs: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target morphd morph

# The release build for the tests, after the test packages: the integration tests need node,
# npm and redis-server, which plain `deps` does not install.
build-tests: test-deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: test-deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DMORPHD_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)

build-fuzz: test-deps
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DMORPHD_FUZZ=ON >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzz_obj fuzz_image fuzz_canon fuzz_ply fuzz_spec fuzz_precheck fuzz_multipart fuzz_pairs

# The job server on this machine: redis (AOF, unix socket), one worker, the api on
# 127.0.0.1:${MORPHD_PORT:-8080}, file storage under $(RUN_DATA). Stays in the foreground.
run: build-programs
	@MORPHD_BUILD=$(BUILD) deploy/run-local.sh $(RUN_DATA)

# The sample morph with no server: `morph run` straight into $(RUN_OUT).
morph-sample: build-programs
	@$(BUILD)/morph sample $(SAMPLE_DIR)
	@$(BUILD)/morph run $(SAMPLE_DIR)/sample_A.obj $(SAMPLE_DIR)/sample_B.obj -o $(RUN_OUT)
	@echo "frames: $(RUN_OUT)/frames/  manifest: $(RUN_OUT)/manifest.json  log: $(RUN_OUT)/session.log"

test-unit: build-tests
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE 'fuzz|image'

test-asan: build-asan
	@cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -LE 'fuzz|image'

test-fuzz: build-fuzz
	@cd $(BUILD_FUZZ) && ctest --output-on-failure -L fuzz

# The images from a clean context (the build trees are not copied into them): about 15 minutes
# on 2 cores, most of it Debian's CUDA toolkit.
test-image: build-tests
	@cd $(BUILD) && ctest -V -L image

test: test-unit test-asan test-fuzz test-tsan test-image

image:
	@deploy/install-deps.sh --image
	@deploy/build-image.sh cpu cuda

# ThreadSanitizer on the threaded parts (label tsan, tests/CMakeLists.txt): the engine tests,
# test_pipeline, test_queue, test_budget, test_worker (smaller long jobs under TSan) and the api
# integration tests submit, batching, shutdown and head, which run real workers. Only the
# targets those tests run are built. A report stops the process that hit it (halt_on_error), so
# the test fails. About 6 minutes of tests on 2 cores once built (README).
TSAN_TARGETS = morphd morph test_budget test_queue test_pipeline test_worker test_engine_batch \
               test_engine_camera test_engine_morph test_engine_raster test_engine_shade \
               test_engine_texture test_engine_weights test_engine_xlu test_face_cache \
               test_tex_cache

test-tsan: test-deps
	@cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DMORPHD_TSAN=ON -DMORPHD_CUDA=OFF >/dev/null
	@cmake --build $(BUILD_TSAN) -j $(JOBS) --target $(TSAN_TARGETS)
	@cd $(BUILD_TSAN) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j $(JOBS) -L tsan

# 10 minutes of mixed load with worker kills and a Redis restart (bench/soak.sh).
soak: build-tests
	@bench/soak.sh 600

bench: build
	@$(BUILD)/bench_default_job --threads 2

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_TSAN) out
