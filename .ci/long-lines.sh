#!/usr/bin/env bash
# Lists the Swift lines longer than the formatter's limit (`.swift-format`, lineLength 120), as path:line: columns.
# With no arguments it scans Sources, Tests and Tables; with files or folders, only those (e.g. the files a change
# touches: .ci/long-lines.sh $(git diff --name-only main -- '*.swift')). --check exits 1 when any line is too long.
# Characters, not bytes, are counted (UTF-8), as the formatter counts them. `.ci/run` runs it with --check. The tree's
# long lines were wrapped by hand: `swift format --in-place --recursive Sources Tests Tables` with this configuration
# would also re-lay every multi-line signature and call and drop the column alignment of the shape comments.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
limit=$(sed -nE 's/.*"lineLength" *: *([0-9]+).*/\1/p' .swift-format)
paths=("$@")
if [ ${#paths[@]} -eq 0 ]; then paths=(Sources Tests Tables); fi
long=$(LC_ALL=C.UTF-8 grep -rnHE --include='*.swift' "^.{$((limit + 1)),}" "${paths[@]}" || true)
count=0
if [ -n "$long" ]; then
  while IFS= read -r hit; do
    file=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}; text=${rest#*:}
    echo "$file:$line: $(printf '%s' "$text" | LC_ALL=C.UTF-8 wc -m) columns"
    count=$((count + 1))
  done <<< "$long"
fi
echo "$count line(s) over $limit columns" >&2
if [ $check -eq 1 ] && [ $count -gt 0 ]; then exit 1; fi
exit 0
