#!/usr/bin/env bash
# The one test pipeline: run the stages in order, time each, stop at the first failure, summarise.
#   tools/pipeline.sh [stage ...]      (default: every stage)
# shellcheck disable=SC2317  # the stage_* functions are called indirectly, by name
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
export PATH="$root/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$root/.cache/collections"
export NO_COLOR=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0

stage_ruff() { ruff check . && ruff format --check .; }
stage_ansible_lint() { ansible-lint --offline; }
stage_sanity() { tools/sanity.sh; }
stage_build() { tools/build_check.sh; }
# The same build check under the oldest supported ansible-core (requires_ansible in meta/runtime.yml).
stage_compat() { PATH="$root/.venv-core217/bin:$PATH" tools/build_check.sh; }
stage_pytest() {
  pytest tests -p no:cacheprovider -q -o junit_family=xunit2 --durations=10
}
stage_molecule() { lab/image.sh && molecule test --all; }
stage_demo() { tools/demo_check.sh; }

ALL_STAGES=(ruff ansible_lint sanity build compat pytest molecule demo)
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=("${ALL_STAGES[@]}")

summary=()
status=0
for stage in "${stages[@]}"; do
  echo "=== stage: $stage ==="
  start=$(date +%s)
  "stage_$stage"
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    summary+=("$(printf '%-13s ok      %4ds' "$stage" "$elapsed")")
  else
    summary+=("$(printf '%-13s FAILED  %4ds (exit %d)' "$stage" "$elapsed" "$rc")")
    status=$rc
    break
  fi
done

echo
echo "=== pipeline summary ==="
printf '%s\n' "${summary[@]}"
[ $status -eq 0 ] && echo "all stages passed" || echo "stopped at the first failure"
exit $status
