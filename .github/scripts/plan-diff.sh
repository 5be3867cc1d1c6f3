#!/usr/bin/env bash
# Judges a pull request's head plan with the base commit's code and writes the comment's diff.
#
#   plan-diff.sh ENV RECSYS_DR BASE_PLAN HEAD_DIR OUT_DIR
#
# RECSYS_DR is the base commit's `recsys-dr`; HEAD_DIR is what the head job uploaded
# (plan-head.json when the head plan rendered, plan-head.err always): data written by the pull
# request's code, never run. `recsys-dr check` recomputes the head plan's policy violations and DR
# estimate with the base commit's rules (what the head plan says about itself is dropped), and
# the diff is taken against that. OUT_DIR gets diff.md, plan-base.json and plan-head.json (the
# rechecked one). Exit 0 when the head plan rendered and has no mandatory violation by the base
# commit's rules, 1 otherwise.
set -uo pipefail

env_name=$1 recsys_dr=$2 base_plan=$3 head_dir=$4 out=$5
mkdir -p "$out"
cp "$base_plan" "$out/plan-base.json"
title="recsys-dr plan ($env_name)"

could_not() {  # $1: why; the head's own error text follows, without control characters
  {
    echo "<!-- recsys-dr-plan-diff:$env_name -->"
    echo "### $title: \`$env_name\` $1"
    echo
    echo '```'
    tr -d '\000-\010\013\014\016-\037\177' < "$head_dir/plan-head.err" 2>/dev/null | head -c 20000 | sed 's/```/` ` `/g'
    echo '```'
  } > "$out/diff.md"
}

if [ ! -s "$head_dir/plan-head.json" ]; then
  could_not "could not be rendered"
  exit 1
fi
"$recsys_dr" check "$head_dir/plan-head.json" --out "$out/plan-head.json"
verdict=$?
if [ "$verdict" -ne 0 ] && [ "$verdict" -ne 1 ]; then
  rm -f "$out/plan-head.json"
  could_not "could not be judged (the base commit's \`recsys-dr check\` exited $verdict)"
  exit 1
fi
"$recsys_dr" diff "$out/plan-base.json" "$out/plan-head.json" --format markdown --title "$title" --out "$out/diff.md" \
  || { could_not "could not be diffed"; exit 1; }
echo "<sub>Policy verdict and DR estimate of the head plan: the base commit's rules (\`recsys-dr check\`).</sub>" >> "$out/diff.md"
exit "$verdict"
