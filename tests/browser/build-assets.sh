#!/usr/bin/env bash
# Rebuilds the browser bundles the Rust signaling server embeds (signaling/assets/*.min.js).
# Run after changing a version in package.json: npm ci --prefix tests/browser && tests/browser/build-assets.sh
# The output is committed, so building Ferry never needs npm.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../signaling/assets"
esbuild="$here/node_modules/.bin/esbuild"
[ -x "$esbuild" ] || { echo "esbuild missing: run npm ci --prefix tests/browser" >&2; exit 1; }

ver() { node -p "require('$here/node_modules/$1/package.json').version"; }

# IIFE globals, as the libraries' own dist builds expose them: window.JsSIP and window.SIP.
# --legal-comments=none keeps the output stable; the licences are named in assets/README.md.
common=(--bundle --minify --format=iife --platform=browser --target=es2020 --legal-comments=none)
"$esbuild" "$here/node_modules/jssip/lib/JsSIP.js" "${common[@]}" --global-name=JsSIP \
  --banner:js="/* JsSIP $(ver jssip) (MIT) https://jssip.net, bundled by tests/browser/build-assets.sh */" \
  --outfile="$out/jssip.min.js"
"$esbuild" "$here/node_modules/sip.js/lib/index.js" "${common[@]}" --global-name=SIP \
  --banner:js="/* SIP.js $(ver sip.js) (MIT) https://sipjs.com, bundled by tests/browser/build-assets.sh */" \
  --outfile="$out/sipjs.min.js"
