# The two commands the README opens with: `make run` and `make test`.
JOBS ?= 2
DATA ?= ./ferry-data
LISTEN ?= 127.0.0.1:7070

.PHONY: deps build build-asan run test fuzz bench-directory test-release test-asan bench bench-transfer bench-jobs bench-attack bench-memory bench-peer bench-peer-ui bench-tree format clean

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

# The directory's request handling for FUZZ_SECONDS, then the age header parser,
# the ZIP layout reader and the peer UI's API for JOBS_FUZZ_SECONDS each, under libFuzzer (clang,
# ASan, UBSan), starting from the seed corpora in the tree.
FUZZ_SECONDS ?= 60
JOBS_FUZZ_SECONDS ?= $(shell [ $(FUZZ_SECONDS) -lt 30 ] && echo $(FUZZ_SECONDS) || echo 30)
fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DFERRY_FUZZ=ON -DFERRY_WERROR=OFF
	cmake --build build-fuzz -j $(JOBS) --target directory_fuzz age_header_fuzz zip_fuzz peer_ui_fuzz
	rm -rf build-fuzz/corpus && mkdir -p build-fuzz/corpus && cp fuzz/corpus/directory/* build-fuzz/corpus/
	./build-fuzz/directory_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	  -print_final_stats=1 build-fuzz/corpus fuzz/corpus/directory
	rm -rf build-fuzz/corpus-age && mkdir -p build-fuzz/corpus-age && cp fuzz/corpus/age/* build-fuzz/corpus-age/
	./build-fuzz/age_header_fuzz -max_total_time=$(JOBS_FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -print_final_stats=1 build-fuzz/corpus-age fuzz/corpus/age
	rm -rf build-fuzz/corpus-zip && mkdir -p build-fuzz/corpus-zip && cp fuzz/corpus/zip/* build-fuzz/corpus-zip/
	./build-fuzz/zip_fuzz -max_total_time=$(JOBS_FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -print_final_stats=1 build-fuzz/corpus-zip fuzz/corpus/zip
	rm -rf build-fuzz/corpus-ui && mkdir -p build-fuzz/corpus-ui && cp fuzz/corpus/peer_ui/* build-fuzz/corpus-ui/
	./build-fuzz/peer_ui_fuzz -max_total_time=$(JOBS_FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -print_final_stats=1 build-fuzz/corpus-ui fuzz/corpus/peer_ui

test: test-release test-asan fuzz

bench: bench-transfer bench-jobs bench-directory bench-attack bench-memory bench-peer bench-peer-ui bench-tree

bench-transfer: build
	FERRY_BENCH_DEPS=1 ./scripts/install-deps.sh
	./bench/transfer_bench.sh

# Many small files: ferry put -r/get -r/sync against scp, sftp and rsync.
bench-tree: build
	FERRY_BENCH_DEPS=1 ./scripts/install-deps.sh
	./bench/tree_bench.sh

bench-peer: build
	FERRY_BENCH_DEPS=1 ./scripts/install-deps.sh
	./bench/peer_bench.sh

bench-peer-ui: build
	FERRY_BENCH_DEPS=1 ./scripts/install-deps.sh
	./bench/peer_ui_bench.sh

bench-jobs: build
	./bench/jobs_bench.sh

bench-memory: build
	./bench/memory_bench.sh

bench-attack: build
	./bench/attack_bench.sh

bench-directory: build
	FERRY_BENCH_DEPS=1 ./scripts/install-deps.sh
	./bench/directory_bench.sh

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf build build-asan
