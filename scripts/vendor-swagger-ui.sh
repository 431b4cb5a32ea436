#!/usr/bin/env bash
# Replaces the Swagger UI files the package ships (src/chat_http/swagger_ui/) with another swagger-ui-dist
# release from the npm registry: only what /schema/swagger loads, plus the licences.
set -euo pipefail

version="${1:?usage: scripts/vendor-swagger-ui.sh VERSION   (a swagger-ui-dist release, e.g. 5.35.0)}"
dest="$(dirname "$0")/../src/chat_http/swagger_ui"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
files=(
  swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt
  swagger-ui-standalone-preset.js swagger-ui-standalone-preset.js.LICENSE.txt
  swagger-ui.css favicon-32x32.png LICENSE NOTICE
)
mkdir -p "$dest"
for name in "${files[@]}"; do
  cp "$tmp/package/$name" "$dest/$name"
done
echo "$version" >"$dest/VERSION"
echo "swagger-ui-dist $version -> $dest"
