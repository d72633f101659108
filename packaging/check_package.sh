#!/usr/bin/env bash
# ctest: builds the .deb with CPack and checks what a user installs: the binaries, the unit,
# the config (a conffile), maintainer scripts, library dependencies; the default config starts
# sluiced; the unit passes `systemd-analyze verify` where systemd is present (exit 77 = skipped
# otherwise, so ctest shows it skipped rather than passed).
set -euo pipefail
build="$1"
src="$2"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cpack --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/out/sluice_*.deb 2>/dev/null | head -1 || true)
[ -n "$deb" ] || fail "no .deb produced"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/sluiced ./usr/bin/sluice ./usr/lib/systemd/system/sluiced.service ./etc/sluice/sluiced.toml \
         ./usr/share/doc/sluice/README.md ./usr/share/doc/sluice/operations.md; do
  grep -q " $f\$" <<<"$contents" || fail "$f is not in the package"
done
grep -q '^-rwxr-xr-x .* ./usr/bin/sluiced$' <<<"$contents" || fail "sluiced is not executable"
info=$(dpkg-deb -I "$deb")
grep -q '^ Package: sluice$' <<<"$info" || fail "package name"
grep -Eq '^ Depends: .*librocksdb' <<<"$info" || fail "Depends lacks librocksdb: $(grep Depends <<<"$info")"
grep -Eq '^ Depends: .*adduser' <<<"$info" || fail "Depends lacks adduser"
dpkg-deb -e "$deb" "$work/control"
grep -qx '/etc/sluice/sluiced.toml' "$work/control/conffiles" || fail "sluiced.toml is not a conffile"
for s in postinst prerm postrm; do [ -x "$work/control/$s" ] || fail "$s missing or not executable"; done
grep -q 'adduser --system' "$work/control/postinst" || fail "postinst does not create the sluice user"

# The packaged files, extracted: the default config is valid and sluiced starts with it.
dpkg-deb -x "$deb" "$work/root"
unit="$work/root/usr/lib/systemd/system/sluiced.service"
for key in 'User=sluice' 'StateDirectory=sluice' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'Restart=on-failure' \
           'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qxF "$key" "$unit" || fail "the unit lacks $key"
done
"$work/root/usr/bin/sluiced" --version | grep -q '^sluiced ' || fail "sluiced --version"
"$work/root/usr/bin/sluiced" --config "$work/root/etc/sluice/sluiced.toml" --data-dir "$work/data" --port 0 \
  --admin-port 0 --http-port 0 --port-file "$work/port" >"$work/sluiced.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/sluiced.log"; fail "sluiced did not start with the packaged config"; }
kill -TERM "$pid"
wait "$pid" || fail "sluiced did not stop cleanly"

if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is not installed: unit verification skipped"
  exit 77
fi
# Verify against the extracted tree, so ExecStart resolves to the packaged binary.
sed "s|/usr/bin/sluiced|$work/root/usr/bin/sluiced|" "$unit" >"$work/sluiced.service"
if ! out=$(systemd-analyze verify "$work/sluiced.service" 2>&1); then
  echo "$out"
  fail "systemd-analyze verify failed"
fi
# verify prints problems as warnings too: any line naming the unit file is one.
if grep -q 'sluiced.service:' <<<"$out"; then
  echo "$out"
  fail "systemd-analyze verify reported problems"
fi
echo "package OK: $(basename "$deb"), $(wc -l <<<"$contents") entries"
