# The two commands: `make demo` (the main job on the embedded lab) and `make test` (the whole suite).
# Each installs what it needs on a fresh Debian 12 machine with root.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections

.PHONY: test demo bootstrap collection-link lab lab-destroy lint sanity pytest molecule bench clean

test: bootstrap collection-link
	tools/pipeline.sh

demo: bootstrap collection-link
	lab/demo.sh

bootstrap:
	tools/bootstrap.sh

# The work tree seen as ansible_collections/mutuapix/infra, so FQCNs resolve to it.
collection-link:
	@mkdir -p .cache/collections/ansible_collections/mutuapix
	@ln -sfn ../../../.. .cache/collections/ansible_collections/mutuapix/infra

lab: bootstrap
	lab/lab.sh up

lab-destroy:
	lab/lab.sh down

# Single stages of the pipeline, for working on one thing.
lint: collection-link
	tools/pipeline.sh ruff ansible_lint
sanity: collection-link
	tools/pipeline.sh sanity
pytest: collection-link
	tools/pipeline.sh pytest
molecule: collection-link
	tools/pipeline.sh molecule

# Speed and memory against named baselines measured in the same run (see benchmarks/README.md).
BENCH_DB_MB ?= 250
BENCH_STORAGE_MB ?= 1024
bench: bootstrap collection-link
	python benchmarks/db_snapshot_restore.py --size-mb $(BENCH_DB_MB) --repeat 3
	python benchmarks/storage_transfer.py --size-mb $(BENCH_STORAGE_MB)
	python benchmarks/queue_probe.py

clean: lab-destroy
	rm -rf .cache .venv .venv-s3 tests/output
