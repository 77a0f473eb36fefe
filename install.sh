#!/bin/sh
# Installs a mailreg release: downloads the archive for this machine and its .sha256, checks the
# checksum, and only then puts `mailreg` in the install folder. On a mismatch nothing is installed.
#
#   curl -fsSLO https://github.com/mailreg/mailreg/releases/download/v0.1.0/install.sh
#   sh install.sh                 # or: sh install.sh 0.1.0
#
# Environment:
#   MAILREG_VERSION           release to install (default: the first argument, else 0.1.0)
#   MAILREG_INSTALL_DIR       where `mailreg` goes (default: ~/.local/bin)
#   MAILREG_INSTALL_BASE_URL  where the archives are (default: the GitHub release of that version);
#                             http(s):// or file:// (a local mirror)
#   MAILREG_INSTALL_TARGET    the archive's target triple (default: from uname)
set -eu

version="${MAILREG_VERSION:-${1:-0.1.0}}"
version="${version#v}"
install_dir="${MAILREG_INSTALL_DIR:-${HOME:?HOME is not set}/.local/bin}"
base_url="${MAILREG_INSTALL_BASE_URL:-https://github.com/mailreg/mailreg/releases/download/v$version}"
base_url="${base_url%/}"

say() { printf 'mailreg-install: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

target="${MAILREG_INSTALL_TARGET:-}"
if [ -z "$target" ]; then
  os="$(uname -s)"
  arch="$(uname -m)"
  case "$os/$arch" in
    Linux/x86_64 | Linux/amd64) target=x86_64-unknown-linux-musl ;;
    Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
    Darwin/x86_64) target=x86_64-apple-darwin ;;
    Darwin/arm64 | Darwin/aarch64) target=aarch64-apple-darwin ;;
    *) die "no mailreg release for $os $arch; build from source: cargo install --locked mailreg" ;;
  esac
fi

name="mailreg-$version-$target"
archive="$name.tar.gz"

# Downloads $1 to the file $2.
fetch() {
  case "$1" in
    file://*) cp "${1#file://}" "$2" ;;
    *)
      if command -v curl >/dev/null 2>&1; then
        curl --proto '=https,http' -fsSL -o "$2" "$1"
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
      else
        die "neither curl nor wget is installed"
      fi
      ;;
  esac
}

# The SHA-256 of the file $1, in hex.
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    die "neither sha256sum nor shasum is installed: cannot check the download"
  fi
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

say "downloading $base_url/$archive"
fetch "$base_url/$archive" "$tmp/$archive" || die "could not download $base_url/$archive"
fetch "$base_url/$archive.sha256" "$tmp/$archive.sha256" \
  || die "could not download $base_url/$archive.sha256"

expected="$(cut -d ' ' -f 1 <"$tmp/$archive.sha256" | tr 'A-F' 'a-f')"
actual="$(sha256 "$tmp/$archive")"
case "$expected" in
  *[!0-9a-f]* | "") die "$archive.sha256 holds no SHA-256" ;;
esac
[ "${#expected}" -eq 64 ] || die "$archive.sha256 holds no SHA-256"
if [ "$expected" != "$actual" ]; then
  die "checksum mismatch for $archive: expected $expected, got $actual; nothing installed"
fi
say "checksum ok ($actual)"

tar -xzf "$tmp/$archive" -C "$tmp"
[ -f "$tmp/$name/mailreg" ] || die "$archive has no $name/mailreg; nothing installed"

mkdir -p "$install_dir"
# Copy next to the destination, then rename: a running mailreg is never half overwritten.
cp "$tmp/$name/mailreg" "$install_dir/.mailreg.new"
chmod 0755 "$install_dir/.mailreg.new"
mv -f "$install_dir/.mailreg.new" "$install_dir/mailreg"
say "installed $install_dir/mailreg"

case ":${PATH:-}:" in
  *":$install_dir:"*) ;;
  *) say "$install_dir is not on your PATH; add it: export PATH=\"$install_dir:\$PATH\"" ;;
esac
