#!/usr/bin/env bash
# `deepl-basics all` runs every shipped config, prints the summary table and writes each run folder.
set -euo pipefail
bin="$1"; configs="$2"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
table="$("$bin" all --quiet --experiments "$configs" --out "$out")"
echo "$table"
n=$(ls "$configs"/*.json | wc -l)
rows=$(echo "$table" | grep -c '^| .*\.json |')
[ "$rows" -eq "$n" ] || { echo "FAIL: $rows table rows for $n configs"; exit 1; }
for f in "$configs"/*.json; do
  name="$(basename "$f" .json)"
  for file in config.json manifest.json results.json; do
    [ -s "$out/$name/$file" ] || { echo "FAIL: $out/$name/$file missing"; exit 1; }
  done
done
[ -s "$out/optimize_rosenbrock/paths.png" ] && [ -s "$out/linear_1d/fit.png" ] && [ -s "$out/logistic_blobs/decision_boundary.png" ] \
  || { echo "FAIL: a figure is missing"; exit 1; }
echo "$table" | grep -q "agree" || { echo "FAIL: autodiff row"; exit 1; }
"$bin" linear --config "$configs/autodiff.json" >/dev/null 2>&1 && { echo "FAIL: part mismatch accepted"; exit 1; }
echo PASS
