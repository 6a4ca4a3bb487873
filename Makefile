# The two commands the README opens with: `make run` and `make test`.
JOBS ?= 2
DATA ?= ./ferry-data
LISTEN ?= 127.0.0.1:7070

.PHONY: deps build build-asan run test test-release test-asan bench bench-transfer bench-jobs format clean

deps:
	./scripts/install-deps.sh

build: deps
	cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build -j $(JOBS)

build-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)

run: build
	./build/ferry server --listen $(LISTEN) --data $(DATA)

test-release: build
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd build-asan && ctest --output-on-failure -j $(JOBS)

test: test-release test-asan

bench: bench-transfer bench-jobs

bench-transfer: build
	FERRY_BENCH_DEPS=1 ./scripts/install-deps.sh
	./bench/transfer_bench.sh

bench-jobs: build
	./bench/jobs_bench.sh

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build build-asan
