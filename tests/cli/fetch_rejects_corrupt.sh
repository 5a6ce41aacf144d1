#!/usr/bin/env bash
# data/fetch must refuse a file whose checksum differs, exit non-zero and leave nothing in place.
set -u
fetch="$1"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/source" "$work/dest"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  printf 'corrupted %s' "$f" > "$work/source/$f"
done
out="$(DEEPL_DATA="$work/dest" DEEPL_FETCH_SOURCE_MNIST="$work/source" bash "$fetch" mnist 2>&1)"
code=$?
echo "$out"
[ "$code" -ne 0 ] || { echo "FAIL: fetch accepted corrupted files"; exit 1; }
echo "$out" | grep -q "checksum mismatch" || { echo "FAIL: no checksum message"; exit 1; }
[ -z "$(ls -A "$work/dest" 2>/dev/null)" ] || { echo "FAIL: files left in $work/dest:"; ls -R "$work/dest"; exit 1; }
# An unknown data set name is refused too.
DEEPL_DATA="$work/dest" bash "$fetch" cifar >/dev/null 2>&1 && { echo "FAIL: unknown data set accepted"; exit 1; }
echo "PASS"
