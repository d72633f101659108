#!/usr/bin/env bash
# ctest include_rules: each folder includes only what its layer may (docs/architecture.md,
# "Layout"). Checks every #include "..." of the project's own headers and the few system
# headers that mark a layer (uv.h, rocksdb/). Prints each violation; exit 1 if any.
#
#   base/                     base/
#   protocol/                 base/, protocol/
#   storage/                  base/, storage/ (and rocksdb/, which nothing else includes)
#   parquet/                  base/, parquet/: the Parquet writer knows nothing of streams
#   client-lib/ (library)     base/, protocol/, client-lib/, sluice/ — never server/ or storage/
#   client-lib/include/       the installed header: standard library only
#   client-lib/cli/           the library, storage/ (sluice inspect), parquet/ (sluice convert) — never server/
#   server/encoding, net/     base/ and themselves
#   server/processing/        base/, protocol/, server/encoding/, server/net/, server/processing/
#   server/delivery/, config  no uv.h, nothing of the loops: server/admin/, shard, connection,
#                             listener, server, put_handler, segmenter, replay_job
#   server/http/firehose_api  the API's JSON bodies: no loops, no connections (unit tested)
#   server/cluster/           base/, encoding/, net/, itself (and stream names): etcd only, no loops
#   server/delivery/destinations/<kind>/
#                             base/, protocol's sha256/sigv4, encoding/, net/, the delivery primitives (destination.h,
#                             object_key.h, file_util.h, codec.h), the registry and its own
#                             folder: never another kind, the stream settings or the pool
set -uo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root" || exit 2
bad=0
violation() { echo "include_rules: $1: includes \"$2\" ($3)"; bad=1; }

# check <files...> -- allowed-prefix regex -- reason
check_dir() {
  local dir="$1" allowed="$2" reason="$3"
  while IFS= read -r line; do
    file="${line%%:*}"
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$line")
    [[ "$inc" =~ $allowed ]] || violation "$file" "$inc" "$reason"
  done < <(grep -rn --include='*.h' --include='*.cc' -E '^\s*#include "' $dir 2>/dev/null | sed -E 's/^([^:]+):[0-9]+:/\1:/')
}

check_dir base '^base/' "base includes only base/"
check_dir protocol '^(base|protocol)/' "protocol sees base/ and protocol/ only"
check_dir storage '^(base|storage)/' "storage sees RocksDB and base/ only"
check_dir parquet '^(base|parquet)/' "the Parquet writer sees base/ only"
check_dir "client-lib/client.cc client-lib/client.h client-lib/cluster_lane.cc client-lib/cluster_lane.h client-lib/replay.cc client-lib/replay.h client-lib/producer.cc" \
  '^(base|protocol|client-lib|sluice)/' "libsluice never includes server/ or storage/"
# The installed header: the standard library only (no project header, nothing of the build tree).
check_dir client-lib/include '^$' "the public client header includes only the standard library"
check_dir client-lib/cli '^(base|protocol|storage|parquet|client-lib|sluice)/' "the CLI never includes server/"
check_dir "server/encoding server/net" '^(base|server/(encoding|net))/' "encodings and the HTTP client depend on base/ only"
check_dir server/processing '^(base|protocol|server/(encoding|net|processing))/' \
  "processors do not reach into delivery or the loops"
check_dir "server/delivery server/config.h server/config.cc server/config_toml.h server/stream_config.h server/stream_config.cc server/stream_registry.h" \
  '^(base|protocol|storage|parquet|server/(encoding|net|processing|delivery|cluster/records\.h|config\.h|config_toml\.h|stream_config\.h|stream_registry\.h))' \
  "the delivery library has no libuv and no loops"
# The cluster agent and its etcd client: threads of their own, no loops; main reaches them.
check_dir server/cluster '^(base|server/(encoding|net|cluster|stream_config\.h))/?' \
  "the cluster agent talks to etcd only: no loops, no delivery, no storage"

check_dir "server/http/firehose_api.h server/http/firehose_api.cc server/http/sigv4.h server/http/sigv4.cc" \
  '^(base|protocol|storage|server/(encoding|delivery|stream_registry\.h|stream_config\.h|config\.h|http/(firehose_api|sigv4)\.h))' \
  "the Firehose API's bodies are pure: no loops, no connections"

for kind_dir in server/delivery/destinations/*/; do
  kind_dir="${kind_dir%/}"
  check_dir "$kind_dir" \
    "^(base/|protocol/(sha256|sigv4)\\.h$|server/(encoding|net)/|server/delivery/(destination|object_key|file_util|codec)\\.h$|server/delivery/destinations/registry\\.h$|${kind_dir}/)" \
    "a destination kind sees the delivery primitives, the registry and its own folder only"
done

# System headers that mark a layer.
while IFS= read -r hit; do violation "${hit%%:*}" "rocksdb/..." "only storage/ includes RocksDB"; done \
  < <(grep -rln --include='*.h' --include='*.cc' -E '^\s*#include <rocksdb/' base protocol client-lib server parquet 2>/dev/null)
while IFS= read -r hit; do violation "${hit%%:*}" "uv.h" "the delivery library runs without libuv"; done \
  < <(grep -rln --include='*.h' --include='*.cc' -E '^\s*#include <uv\.h>' server/delivery server/processing server/encoding \
        server/net server/cluster server/config.h server/config.cc server/config_toml.h server/stream_config.h server/stream_config.cc server/stream_registry.h storage parquet protocol base 2>/dev/null)

if [ "$bad" -ne 0 ]; then
  echo "include_rules: FAILED (see docs/architecture.md, Layout)"
  exit 1
fi
echo "include_rules: every folder includes only what its layer may"
