#!/usr/bin/env bash
# Screenshot pages of the built book with headless Chromium, to check by eye that they
# render offline (math typeset by the local MathJax, figures shown, layout intact).
#
#   scripts/screenshot.sh [PAGE ...]     PAGE relative to $BOOK_DIR/_build/html (default:
#                                        the index, every toc chapter, the bibliography);
#                                        BOOK_DIR defaults to book
# Installs nothing: needs `chromium` (Debian: apt-get install -y chromium).
# Writes $BOOK_DIR/_build/screenshots/<page path with / replaced by _>.png.
set -euo pipefail
cd "$(dirname "$0")/.."

book=${BOOK_DIR:-book}
html=$book/_build/html
out=$book/_build/screenshots
size=${SCREENSHOT_SIZE:-1400,2400}

browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$browser" ]; then
    echo "screenshot: chromium not found; install it with:" >&2
    echo "    apt-get install -y chromium" >&2
    exit 1
fi
[ -f "$html/index.html" ] || { echo "screenshot: $html/index.html missing; run 'make book' first" >&2; exit 1; }

pages=("$@")
if [ ${#pages[@]} -eq 0 ]; then  # default: the index, every chapter named in the toc, the bibliography
    pages=(index.html)
    while read -r chapter; do pages+=("$chapter.html"); done \
        < <(sed -n 's/^ *- *file: *\(chapters\/[A-Za-z0-9_.-]*\).*/\1/p' "$book/_toc.yml")
    pages+=(bibliography.html)
fi

mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
status=0
for page in "${pages[@]}"; do
    if [ ! -f "$html/$page" ]; then
        echo "screenshot: $html/$page missing" >&2; status=1; continue
    fi
    png="$out/$(echo "${page%.html}" | tr / _).png"
    # --virtual-time-budget lets MathJax finish typesetting before the capture;
    # --host-resolver-rules makes every host name unresolvable, so the page renders as it
    # would offline (anything that needs the web shows up broken in the screenshot).
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --disable-background-networking --disable-component-update --no-first-run \
        --disable-default-apps --disable-sync --user-data-dir="$profile" \
        --host-resolver-rules="MAP * ~NOTFOUND" \
        --window-size="$size" --virtual-time-budget=10000 \
        --screenshot="$(realpath -m "$png")" "file://$(realpath "$html/$page")" >/dev/null 2>&1 || status=1
    if [ -s "$png" ]; then echo "screenshot: $png"; else echo "screenshot: failed for $page" >&2; status=1; fi
done
exit $status
