#!/usr/bin/env bash
# ctest docs_metrics: every metric family /metrics can serve (the names in server/monitor/*.cc)
# has a row in docs/operations.md's metrics table, and every row names a metric that exists.
set -uo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root" || exit 2
code=$(grep -ho '"\(sluice\|process\)_[a-z_]*"' server/monitor/*.cc | tr -d '"' | sort -u)
docs=$(grep -o '^| `\(sluice\|process\)_[a-z_]*`' docs/operations.md | tr -d '|` ' | sort -u)
bad=0
for m in $(comm -23 <(echo "$code") <(echo "$docs")); do echo "docs_metrics: $m is served but not in docs/operations.md"; bad=1; done
for m in $(comm -13 <(echo "$code") <(echo "$docs")); do echo "docs_metrics: docs/operations.md lists $m, which is not served"; bad=1; done
[[ -n "$code" ]] || { echo "docs_metrics: found no metric names in server/monitor"; exit 1; }
[[ $bad == 0 ]] && echo "docs_metrics: $(wc -l <<<"$code") metric families, all documented"
exit $bad
