#!/usr/bin/env bash
# Screenshot pages of the built book with headless Chromium, at a desktop and a phone width, to
# check by eye that they render offline (math typeset by the local MathJax, figures shown, layout
# intact, nothing wider than a phone's screen).
#
#   scripts/screenshot.sh [PAGE ...]     PAGE relative to $BOOK_DIR/_build/html, optionally with a
#                                        #fragment (e.g. 'scorecard.html#verdict=not_reproduced': the
#                                        Scorecard filtered); default: the landing page, the
#                                        Scorecard (all claims, and filtered to "not reproduced"),
#                                        every toc chapter and the bibliography. BOOK_DIR: book.
#   SCREENSHOT_SIZES="1400,2400:desktop 390,2400:phone"   the window sizes (default) and their names
# Installs nothing: needs `chromium` (Debian: apt-get install -y chromium chromium-driver).
# Writes $BOOK_DIR/_build/screenshots/<page path, / and # as _>-<size name>.png.
set -euo pipefail
cd "$(dirname "$0")/.."

book=${BOOK_DIR:-book}
html=$book/_build/html
out=$book/_build/screenshots
sizes=${SCREENSHOT_SIZES:-1400,2400:desktop 390,2400:phone}

browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$browser" ]; then
    echo "screenshot: chromium not found; install it with:" >&2
    echo "    apt-get install -y chromium chromium-driver" >&2
    exit 1
fi
[ -f "$html/index.html" ] || { echo "screenshot: $html/index.html missing; run 'make book' first" >&2; exit 1; }

pages=("$@")
if [ ${#pages[@]} -eq 0 ]; then  # default: the landing page, the Scorecard, every toc chapter, the bibliography
    pages=(intro.html scorecard.html "scorecard.html#verdict=not_reproduced")
    while read -r chapter; do pages+=("$chapter.html"); done \
        < <(sed -n 's/^ *- *file: *\(chapters\/[A-Za-z0-9_.-]*\).*/\1/p' "$book/_toc.yml")
    pages+=(bibliography.html)
fi

mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
status=0
for page in "${pages[@]}"; do
    file=${page%%#*}
    fragment=${page#"$file"}
    if [ ! -f "$html/$file" ]; then
        echo "screenshot: $html/$file missing" >&2; status=1; continue
    fi
    for size in $sizes; do
        png="$out/$(echo "${page%.html}" | sed 's/\.html#/_/; s/[\/#=]/_/g')-${size#*:}.png"
        # --virtual-time-budget lets MathJax finish typesetting before the capture;
        # --host-resolver-rules makes every host name unresolvable, so the page renders as it
        # would offline (anything that needs the web shows up broken in the screenshot).
        "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
            --disable-background-networking --disable-component-update --no-first-run \
            --disable-default-apps --disable-sync --user-data-dir="$profile" \
            --host-resolver-rules="MAP * ~NOTFOUND" \
            --window-size="${size%:*}" --virtual-time-budget=10000 \
            --screenshot="$(realpath -m "$png")" "file://$(realpath "$html/$file")$fragment" >/dev/null 2>&1 || status=1
        if [ -s "$png" ]; then echo "screenshot: $png"; else echo "screenshot: failed for $page (${size#*:})" >&2; status=1; fi
    done
done
exit $status
