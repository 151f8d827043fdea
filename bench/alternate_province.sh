#!/usr/bin/env bash
# Alternate an earlier commit's code with the current checkout on the province benchmark, each run from empty plan
# tables (bench_inspections_province.py --fresh), so that both meet the same machine and the same database:
#
#     bench/alternate_province.sh COMMIT [PAIRS] [DATABASE_URL]
#
# COMMIT is checked out in a temporary worktree and run with this checkout's virtualenv and this checkout's benchmark
# script (copied in: the same measurement for both); before each of its runs the inspections migrations are rolled
# back to its latest (with this checkout's code, which knows how), and forward again before each run of the current
# code. Prints each run's phases; full output in $OUT (default /tmp/alternate).
set -euo pipefail
commit=${1:?an earlier commit to compare with}
pairs=${2:-2}
export DATABASE_URL=${3:-postgresql://postgres@127.0.0.1:5432/province}
here=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/alternate}
old=$(mktemp -d /tmp/alternate-old.XXXXXX)
mkdir -p "$out"
git -C "$here" worktree add --detach "$old" "$commit" >/dev/null
trap 'git -C "$here" worktree remove --force "$old"' EXIT
cp "$here/bench/bench_inspections_province.py" "$here/bench/pgcpu.py" "$old/bench/"
latest() { basename "$(ls "$1"/src/jianguan/inspections/migrations/0*.py | sort | tail -1)" .py; }
old_migration=$(latest "$old")
new_migration=$(latest "$here")
for i in $(seq 1 "$pairs"); do
  for which in old new; do
    dir=$here; target=$new_migration
    if [ "$which" = old ]; then dir=$old; target=$old_migration; fi
    (cd "$here" && .venv/bin/jianguan migrate inspections "$target" >/dev/null)
    log="$out/$which-$i.log"
    (cd "$dir" && "$here/.venv/bin/python" bench/bench_inspections_province.py --db "$DATABASE_URL" --fresh \
      >"$log" 2>&1)
    echo "== $which $i"
    grep -E "^(freeze|draw) of plan|^plan [0-9]+:|total_s=" "$log" | sed 's/ candidates=.* total_s=/ … total_s=/'
  done
done
(cd "$here" && .venv/bin/jianguan migrate inspections "$new_migration" >/dev/null)
