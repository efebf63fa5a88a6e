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
# Primary-key fingerprints of Cloudflare's package signing key we accept (40 hex digits, space
# separated). The 2025 key of cloudflare-main.gpg, as several public sources report it. Not the
# older FBA8C0EE63617C5EED695C43254B391D8CACCBF8: its SHA-1 binding signature is rejected by
# apt since 2026-02-01. When Cloudflare rotates its key, add the new fingerprint here in a release.
CLOUDFLARE_APT_KEY_FINGERPRINTS="CC94B39C77AE7342A68B89628A682D308D4E5E73"
# Workers VPC needs cloudflared >= 2025.7.0 over QUIC.
CLOUDFLARED_MIN_VERSION=2025.7.0

# key_fingerprints_ok KEYFILE: the file holds at least one primary key, and every primary key in
# it is one we accept (apt trusts every key in a signed-by keyring, so one stranger is too many).
key_fingerprints_ok() {
  local primaries fpr ok=1
  primaries=$(gpg --batch --show-keys --with-colons "$1" |
    awk -F: '$1 == "pub" { want = 1; next } $1 == "fpr" && want { print $10; want = 0 }')
  if [ -z "$primaries" ]; then
    echo "no OpenPGP public key in $1" >&2
    return 1
  fi
  for fpr in $primaries; do
    case " $CLOUDFLARE_APT_KEY_FINGERPRINTS " in
      *" $fpr "*) ;;
      *)
        echo "key $fpr is not one of the accepted $CLOUDFLARE_APT_KEY_FINGERPRINTS" >&2
        ok=0
        ;;
    esac
  done
  [ "$ok" = 1 ]
}

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
key_fingerprints_ok "$work/key.gpg" || die "refusing to install cloudflared: $KEY_URL is not a key we accept (see above)"
install -m 0644 "$work/key.gpg" "$KEYRING"
echo "deb [signed-by=$KEYRING] https://pkg.cloudflare.com/cloudflared any main" \
  >/etc/apt/sources.list.d/cloudflared.list

log "installing cloudflared (pkg.cloudflare.com)"
retry 5 apt_get update
retry 5 apt_get install --no-install-recommends cloudflared
version=$(dpkg-query -W -f='${Version}' cloudflared)
dpkg --compare-versions "$version" ge "$CLOUDFLARED_MIN_VERSION" ||
  die "cloudflared $version is older than $CLOUDFLARED_MIN_VERSION (Workers VPC needs QUIC support)"

# Updates: unattended-upgrades takes cloudflared from Cloudflare's repository too
# (/etc/apt/apt.conf.d/52crawl4ai-mcp-cloudflared), and a path unit restarts the connector when
# the binary changes (the unit runs with --no-autoupdate: apt, not cloudflared, updates it).
systemctl daemon-reload
systemctl enable --now cloudflared-crawl4ai-update.path
# --no-block: the unit is Type=notify and waits for the first edge connection; a blocked UDP 7844
# must not hang the bootstrap (cloudflared keeps retrying; `crawl4ai-mcp status` shows the tunnel down).
systemctl enable --now --no-block cloudflared-crawl4ai.service
log "cloudflared $version started the tunnel connector for {{deployment}}"
