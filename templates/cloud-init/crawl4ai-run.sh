#!/bin/bash
# ExecStart of crawl4ai.service: runs Crawl4AI in the foreground so systemd supervises it.
# The API token reaches the container through --env-file (a 0600 root file), never through argv.
set -euo pipefail
# shellcheck source=/dev/null
. /etc/crawl4ai/settings.env

# The memory limit was planned for the instance's size. After `crawl4ai-mcp scale` the machine has
# another size, so derive the limit again with the rule of memoryLimitFor() in src/bootstrap/cloud-init.ts.
limit=$CRAWL4AI_MEMORY_LIMIT
host_gib=$(awk '/^MemTotal:/ { printf "%d", ($2 + 524288) / 1048576 }' /proc/meminfo)
if [ -n "$CRAWL4AI_PLANNED_MEMORY_GIB" ] && [ "$host_gib" != "$CRAWL4AI_PLANNED_MEMORY_GIB" ]; then
  reserve=$((host_gib / 8))
  [ "$reserve" -lt 1 ] && reserve=1
  limit="$((host_gib - reserve))g"
  echo "host has ${host_gib} GiB, planned ${CRAWL4AI_PLANNED_MEMORY_GIB} GiB: memory limit $limit"
fi

if ! docker image inspect "$CRAWL4AI_IMAGE" >/dev/null 2>&1; then
  docker pull -q "$CRAWL4AI_IMAGE"
fi

# The image actually run, by digest, on the serial console at each start: `crawl4ai-mcp status`
# reads it through the cloud's console-output API (EC2 GetConsoleOutput). Never fatal.
digest=$(docker image inspect --format '{{index .RepoDigests 0}}' "$CRAWL4AI_IMAGE" 2>/dev/null || true)
[ -n "$digest" ] || digest=unknown
echo "crawl4ai-mcp: image $CRAWL4AI_IMAGE digest ${digest##*@}" >/dev/console 2>/dev/null || true

# GUNICORN_BIND: with a token set, the 0.9.x entrypoint binds [::], which fails where IPv6 is off.
# Published on the host's loopback only: the reverse proxy (public mode) or cloudflared (tunnel
# mode) reaches it there.
# --cap-drop, no-new-privileges and --pids-limit follow the upstream hardened docker-compose.yml.
exec /usr/bin/docker run --rm --name crawl4ai --pull never \
  -p 127.0.0.1:11235:11235 \
  --shm-size=1g \
  --memory="$limit" \
  --pids-limit 512 \
  --cap-drop ALL \
  --security-opt no-new-privileges:true \
  --log-opt max-size=20m --log-opt max-file=3 \
  --env-file /etc/crawl4ai/crawl4ai.env \
  -e GUNICORN_BIND=0.0.0.0:11235 \
  "$CRAWL4AI_IMAGE"
