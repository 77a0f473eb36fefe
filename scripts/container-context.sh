#!/bin/sh
# Makes the build context of the Dockerfile: scripts/container-context.sh BINARY OUT_DIR
# BINARY must be a static Linux binary (the musl build). The CA certificates are this machine's
# bundle (Debian/Ubuntu: /etc/ssl/certs/ca-certificates.crt, from the ca-certificates package).
set -eu
[ "$#" -eq 2 ] || { echo "usage: $0 BINARY OUT_DIR" >&2; exit 2; }
binary="$1"
out="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
ca="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
[ -s "$ca" ] || { echo "no CA bundle at $ca (install ca-certificates)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/rootfs/usr/local/bin" "$out/rootfs/etc/ssl/certs" "$out/rootfs/tmp" "$out/rootfs/work"
cp "$root/Dockerfile" "$out/Dockerfile"
cp "$binary" "$out/rootfs/usr/local/bin/mailreg"
chmod 0755 "$out/rootfs/usr/local/bin/mailreg"
cp "$ca" "$out/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/work:/sbin/nologin\n' \
  >"$out/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$out/rootfs/etc/group"
chmod 1777 "$out/rootfs/tmp"
# COPY keeps numeric owners only with --chown; the folder is world-writable instead, so a
# --user of the caller's choosing can write there too.
chmod 1777 "$out/rootfs/work"
echo "$out"
