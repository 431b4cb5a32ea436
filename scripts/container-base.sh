#!/usr/bin/env bash
# A local base image for the Dockerfile (BASE=localhost/chat-base:bookworm) on a machine that reaches Debian's
# package archive but no container registry: a Debian 12 root file system with python3 (3.11) and its venv
# module, imported into podman (or docker). The machine's CA bundle goes in too, so that pip inside the build
# trusts what this machine trusts (a company proxy that re-signs TLS, for instance).
#
#   sudo scripts/container-base.sh [podman|docker]     # then: podman build --build-arg BASE=localhost/chat-base:bookworm
set -euo pipefail
runtime=${1:-podman}
image=localhost/chat-base:bookworm
if "$runtime" image exists "$image" 2>/dev/null || "$runtime" image inspect "$image" >/dev/null 2>&1; then
    echo "$image is there already"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" \
    http://deb.debian.org/debian >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | "$runtime" import --change 'CMD ["python3"]' - "$image"
echo "built $image"
