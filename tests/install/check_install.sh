#!/usr/bin/env bash
# ctest client_library_install: installs the client component into a temp prefix, checks the
# public header includes only the standard library, builds a program outside the tree against
# it with find_package(sluice) and with pkg-config, and puts records with both into a real
# sluiced. Usage: check_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$1"
src="$2"
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" --component client >"$work/install.log" || { cat "$work/install.log"; fail "install"; }
hdrs=$(cd "$prefix/include" && find . -type f | sort)
[ "$hdrs" = "./sluice/sluice.h" ] || fail "installed headers are not exactly sluice/sluice.h: $hdrs"
if grep -E '^\s*#\s*include\s+"' "$prefix/include/sluice/sluice.h"; then fail "the public header includes a project header"; fi
lib=$(find "$prefix" -name 'libsluice.so' | head -1)
[ -n "$lib" ] || fail "libsluice.so not installed"
# Only the public interface is exported.
if nm -D --defined-only "$lib" | c++filt | grep -E ' (sluice::(base|proto|client)::|flatbuffers::)' | head -3; then
  fail "libsluice.so exports internal symbols"
fi

"$build/bin/sluiced" --data-dir "$work/data" --port 0 --admin-port 0 --http-port 0 --port-file "$work/port" >"$work/sluiced.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/sluiced.log"; fail "sluiced did not start"; }
port=$(cat "$work/port")

# 1. find_package(sluice)
cmake -S "$src/tests/install/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" >"$work/cfg.log" 2>&1 ||
  { cat "$work/cfg.log"; fail "find_package(sluice) configure"; }
cmake --build "$work/consumer" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "find_package(sluice) build"; }
"$work/consumer/put_one" "$port" || fail "the find_package program could not put"

# 2. pkg-config sluice
pcdir=$(dirname "$(find "$prefix" -name sluice.pc | head -1)")
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs sluice) || fail "pkg-config sluice"
c++ -std=c++17 "$src/tests/install/consumer/put_one.cc" $flags -o "$work/put_one_pc" || fail "pkg-config build"
LD_LIBRARY_PATH="$(dirname "$lib")" "$work/put_one_pc" "$port" || fail "the pkg-config program could not put"

kill -TERM "$pid"
wait "$pid" || fail "sluiced did not stop cleanly"
pid=""
echo "client library OK: installed, found by find_package and pkg-config, 4 records put"
