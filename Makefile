# The two commands of the README. Everything else is a step they run.
.PHONY: serve test bootstrap lint unit bench bench-lock bench-editor bench-build bench-fsck bench-verify bench-compat bench-mirror bench-dist bench-stack bench-scale bench-publish

serve: bootstrap  ## set up and run the server (SQLite and files under the data directory)
	bash ci/build-assets.sh
	.venv/bin/wasmfarm serve $(ARGS)

test: bootstrap  ## set up and run every check: lint, types, unit, integration (SQLite + PostgreSQL), e2e
	bash ci/services.sh
	bash ci/test-assets.sh
	bash ci/builder-assets.sh
	bash ci/build-assets.sh
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/pytest $(PYTEST_ARGS)

bootstrap:
	bash ci/bootstrap.sh

lint: bootstrap
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench: bootstrap  ## benchmarks (print ratios; not part of `make test`)
	WASMFARM_EXTRAS=dev,bench bash ci/bootstrap.sh
	bash ci/bench-deps.sh
	.venv/bin/python -m tests.bench.index_bench $(ARGS)

bench-lock: bootstrap  ## lockfile generation, server-side locking, Chromium boot from the mirror
	bash ci/bench-deps.sh
	bash ci/test-assets.sh
	.venv/bin/python -m tests.bench.lock_bench $(ARGS)

bench-editor: bootstrap  ## editor cold/warm start against a bare boot; server lock against micropip
	bash ci/test-assets.sh
	bash ci/build-assets.sh
	.venv/bin/python -m tests.bench.editor_bench $(ARGS)

bench-build: bootstrap  ## no-op --changed over 200 recipes; farm overhead against pyodide build; 2 workers against 1
	bash ci/services.sh
	bash ci/test-assets.sh
	bash ci/builder-assets.sh
	.venv/bin/python -m tests.bench.build_bench $(ARGS)

bench-verify: bootstrap  ## verification per wheel against a bare micropip install; 10 wheels batched against one by one
	bash ci/test-assets.sh
	.venv/bin/python -m tests.bench.verify_bench $(ARGS)

bench-fsck: bootstrap  ## fsck's file check against sha256sum over the same stored files
	.venv/bin/python -m tests.bench.fsck_bench $(ARGS)

bench-compat: bootstrap  ## /compat at 10,000 projects; a stored check; a real check against bare micropip; a scan, 2 workers against 1
	bash ci/test-assets.sh
	.venv/bin/python -m tests.bench.compat_bench $(ARGS)

bench-mirror: bootstrap  ## a no-op `wasmfarm mirror` of 9 projects (31,289 files listed upstream) against one listing of them
	.venv/bin/python -m tests.bench.mirror_bench $(ARGS)

bench-publish: bootstrap  ## full render, upload-to-visible and server-side lock in a big catalog against a small one
	bash ci/test-assets.sh
	bash ci/services.sh
	.venv/bin/python -m tests.bench.publish_bench $(ARGS)

bench-scale: bootstrap  ## mirror ingest of 2,000 wheels (files/s) against a plain download of them; a no-op re-mirror of 9 projects against one listing (ARGS="--database postgresql")
	bash ci/services.sh
	.venv/bin/python -m tests.bench.scale_bench $(ARGS)

bench-stack: bootstrap  ## the Pillow chain built cold, from a warm build cache, and after one library's flag changed
	bash ci/services.sh
	bash ci/test-assets.sh
	bash ci/builder-assets.sh
	.venv/bin/python -m tests.bench.stack_bench $(ARGS)

bench-dist: bootstrap  ## import of a Pyodide release archive (150 MB of wheels) against tar -x + sha256sum over it
	bash ci/test-assets.sh
	.venv/bin/python -m tests.bench.dist_bench $(ARGS)
