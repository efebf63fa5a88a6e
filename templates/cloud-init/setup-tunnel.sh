#!/bin/bash
# Tunnel mode: cloudflared connects out to Cloudflare (QUIC on UDP 7844) and the Worker reaches
# Crawl4AI on 127.0.0.1:11235 through a Workers VPC service. No inbound port, no hostname.
# Run once by bootstrap.sh.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# shellcheck source-path=SCRIPTDIR source=lib.sh
. /usr/local/lib/crawl4ai-mcp/lib.sh

KEY_URL=https://pkg.cloudflare.com/cloudflare-main.gpg
KEYRING=/usr/share/keyrings/cloudflare-main.gpg
# Fingerprint of the primary key in cloudflare-main.gpg (40 hex digits, no spaces). It could not be
# checked offline when this was written: it MUST be filled in and checked at release. While it is
# empty, the key is used unpinned (as Cloudflare's own instructions do) and its fingerprint is logged.
CLOUDFLARE_APT_KEY_FINGERPRINT=""
# Workers VPC needs cloudflared >= 2025.7.0 over QUIC.
CLOUDFLARED_MIN_VERSION=2025.7.0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GNUPGHOME="$work/gnupg"
mkdir -m 0700 "$GNUPGHOME"

log "fetching Cloudflare's package signing key"
retry 5 curl -fsSL --proto '=https' --tlsv1.2 -o "$work/key" "$KEY_URL"
if grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----' "$work/key"; then
  gpg --batch --yes --dearmor -o "$work/key.gpg" "$work/key"
else
  cp "$work/key" "$work/key.gpg"
fi
# Primary-key fingerprints in the file (apt trusts every key in it).
primaries=$(gpg --batch --show-keys --with-colons "$work/key.gpg" |
  awk -F: '$1 == "pub" { want = 1; next } $1 == "fpr" && want { print $10; want = 0 }')
[ -n "$primaries" ] || die "$KEY_URL is not an OpenPGP key"
if [ -n "$CLOUDFLARE_APT_KEY_FINGERPRINT" ]; then
  if [ "$primaries" != "$CLOUDFLARE_APT_KEY_FINGERPRINT" ]; then
    die "Cloudflare's key fingerprint is $(echo "$primaries" | tr '\n' ' '), expected $CLOUDFLARE_APT_KEY_FINGERPRINT"
  fi
else
  log "WARNING: Cloudflare's key is not pinned; its fingerprint is $(echo "$primaries" | tr '\n' ' ')"
fi
install -m 0644 "$work/key.gpg" "$KEYRING"
echo "deb [signed-by=$KEYRING] https://pkg.cloudflare.com/cloudflared any main" \
  >/etc/apt/sources.list.d/cloudflared.list

log "installing cloudflared (pkg.cloudflare.com)"
retry 5 apt_get update
retry 5 apt_get install --no-install-recommends cloudflared
version=$(dpkg-query -W -f='${Version}' cloudflared)
dpkg --compare-versions "$version" ge "$CLOUDFLARED_MIN_VERSION" ||
  die "cloudflared $version is older than $CLOUDFLARED_MIN_VERSION (Workers VPC needs QUIC support)"

systemctl daemon-reload
# --no-block: the unit is Type=notify and waits for the first edge connection; a blocked UDP 7844
# must not hang the bootstrap (cloudflared keeps retrying; `crawl4ai-mcp status` shows the tunnel down).
systemctl enable --now --no-block cloudflared-crawl4ai.service
log "cloudflared $version started the tunnel connector for {{deployment}}"
