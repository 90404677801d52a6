#!/usr/bin/env bash
# Remove from a built book what no page loads (issue 24: the book's weight), in place:
#   - the source maps of the theme's minified scripts and styles (read only by a browser's developer
#     tools) and the comments that name them;
#   - the speech-rule maps of MathJax's accessibility explorer for languages other than English;
#   - the theme's message catalogues (Sphinx reads them at build time; the theme copies them along).
#   scripts/slim_book.sh BUILT_HTML_DIR        (make book runs it on every new build)
# A folder without _static/ (a stand-in build) is left as it is.
set -euo pipefail
html=${1:?usage: scripts/slim_book.sh BUILT_HTML_DIR}
[ -d "$html" ] || { echo "slim_book: $html is not a folder" >&2; exit 1; }
static=$html/_static
[ -d "$static" ] || exit 0
find "$static" -type f -name '*.map' -delete
find "$static" -type f \( -name '*.js' -o -name '*.css' \) -exec \
    sed -i -e '/^[[:space:]]*\/\/[#@] sourceMappingURL=/d' -e '/^[[:space:]]*\/\*[#@] sourceMappingURL=.*\*\/[[:space:]]*$/d' {} +
if [ -d "$static/mathjax/sre/mathmaps" ]; then
    find "$static/mathjax/sre/mathmaps" -type f ! -name base.json ! -name en.json -delete
fi
rm -rf "$static/locales"
