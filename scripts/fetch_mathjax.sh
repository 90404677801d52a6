#!/usr/bin/env bash
# Serve MathJax from the book itself, so the HTML book renders math without a network.
#
#   scripts/fetch_mathjax.sh [BOOK_DIR]     BOOK_DIR defaults to book/
#
# Installs the npm package mathjax (version pinned below) once into
#   ${PATCHLIB_ENV_CACHE:-$HOME/.cache/patchlib}/npm
# (reused when that exact version is there: no network needed then) and copies what the
# browser needs into BOOK_DIR/_vendor/_static/mathjax/ (ignored by git): the bundle Sphinx
# loads (es5/tex-mml-chtml.js) and the files that bundle loads lazily by relative URL
# (CHTML woff2 fonts, TeX extensions for autoload/\require, menu, a11y and speech components).
# book/_config.yml lists _vendor in html_extra_path, so the copy lands in
# _build/html/_static/mathjax/, where Sphinx's mathjax_path points.
#
# Why not book/_static/mathjax: Jupyter Book 1 adds every *.js file under book/_static as a
# <script> tag to every page, which would load dozens of MathJax components on each page.
set -euo pipefail
book_dir=$(realpath -m "${1:-book}")

MATHJAX_VERSION=3.2.2
cache=${PATCHLIB_ENV_CACHE:-$HOME/.cache/patchlib}/npm
pkg="$cache/node_modules/mathjax"
dest="$book_dir/_vendor/_static/mathjax"

installed=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg/package.json" 2>/dev/null | head -n1 || true)
if [ "$installed" != "$MATHJAX_VERSION" ]; then
    command -v npm >/dev/null || { echo "fetch_mathjax: npm not found (Debian: apt-get install -y npm)" >&2; exit 1; }
    echo "fetch_mathjax: installing mathjax@$MATHJAX_VERSION into $cache"
    mkdir -p "$cache"
    npm install --prefix "$cache" --no-audit --no-fund --ignore-scripts --save-exact \
        "mathjax@$MATHJAX_VERSION" >/dev/null
fi

if [ "$(cat "$dest/.version" 2>/dev/null)" = "$MATHJAX_VERSION" ] && [ -f "$dest/tex-mml-chtml.js" ]; then
    exit 0  # already in place
fi
rm -rf "$dest"
mkdir -p "$dest/output/chtml/fonts" "$dest/input/tex"
cp "$pkg/es5/tex-mml-chtml.js" "$pkg/LICENSE" "$dest/"
cp -r "$pkg/es5/output/chtml/fonts/woff-v2" "$dest/output/chtml/fonts/"
cp -r "$pkg/es5/input/tex/extensions" "$dest/input/tex/"
cp -r "$pkg/es5/ui" "$pkg/es5/a11y" "$pkg/es5/sre" "$dest/"
echo "$MATHJAX_VERSION" > "$dest/.version"
echo "fetch_mathjax: mathjax $MATHJAX_VERSION -> $dest ($(du -sh "$dest" | cut -f1))"
