#!/usr/bin/env bash
# npm audit at the high level. A registry that does not serve the audit endpoint (some mirrors
# answer 405) is reported as "not checked" instead of failing the build; a finding always fails.
set -uo pipefail
out=$(npm audit --audit-level=high 2>&1)
code=$?
echo "$out" | tail -n 20
if [ $code -eq 0 ]; then exit 0; fi
if echo "$out" | grep -q "audit endpoint returned an error"; then
  echo "npm audit: the registry's audit endpoint is unavailable here; dependencies NOT checked" >&2
  exit 0
fi
exit $code
