#!/usr/bin/env bash
# Lints the API and checks that no commit broke it: every commit that changed proto/ is
# compared with the commit before it (buf's FILE rules), which covers the last landed main
# however many commits came since. A breaking change needs a new package version (v2).
set -euo pipefail
cd "$(dirname "$0")/.."
buf=.tools/node_modules/.bin/buf

$buf lint
echo "buf lint: clean"

checked=0
for commit in $(git log --format=%H -n 50 -- proto); do
  parent=$(git rev-parse --verify --quiet "$commit^") || continue
  # Nothing to compare with before the API's first commit.
  [ -n "$(git ls-tree -r --name-only "$parent" -- proto/dataportal)" ] || continue
  $buf breaking ".git#ref=$commit" --against ".git#ref=$parent"
  checked=$((checked + 1))
done
# The working tree against the last commit, so an uncommitted break shows before it lands.
if [ -n "$(git ls-tree -r --name-only HEAD -- proto/dataportal)" ]; then
  $buf breaking --against ".git#ref=HEAD"
  checked=$((checked + 1))
fi
echo "buf breaking: $checked comparison(s), no breaking change"
