#!/bin/sh
# Packs one release archive: scripts/package.sh BINARY TARGET OUT_DIR
#
# Writes OUT_DIR/mailreg-<version>-<target>.tar.gz, holding one folder of the same name with the
# binary (mailreg, or mailreg.exe), README.md, CHANGELOG.md and LICENSE, and beside it
# OUT_DIR/mailreg-<version>-<target>.tar.gz.sha256 in `sha256sum` format. The release workflow and
# .ci/dist-check both use it, and tests/installer.rs checks the layout it makes.
set -eu

[ "$#" -eq 3 ] || { echo "usage: $0 BINARY TARGET OUT_DIR" >&2; exit 2; }
binary="$1"
target="$2"
out="$3"
root="$(cd "$(dirname "$0")/.." && pwd)"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
[ -n "$version" ] || { echo "no version in Cargo.toml" >&2; exit 1; }
name="mailreg-$version-$target"
exe=mailreg
case "$binary" in *.exe) exe=mailreg.exe ;; esac

mkdir -p "$out"
out="$(cd "$out" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "$binary" "$stage/$name/$exe"
chmod 0755 "$stage/$name/$exe"
cp "$root/README.md" "$root/CHANGELOG.md" "$root/LICENSE" "$stage/$name/"
# Same bytes for the same inputs: fixed order, owner and times (SOURCE_DATE_EPOCH, else 0).
mtime="${SOURCE_DATE_EPOCH:-0}"
if tar --version 2>/dev/null | grep -q 'GNU tar'; then
  set -- --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime"
else
  set -- # bsdtar (macOS): no such flags; the archive is still checked by its checksum
fi
(cd "$stage" && tar "$@" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz")
if command -v sha256sum >/dev/null 2>&1; then
  (cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
else
  (cd "$out" && shasum -a 256 "$name.tar.gz" >"$name.tar.gz.sha256")
fi
echo "$out/$name.tar.gz"
