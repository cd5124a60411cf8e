#!/usr/bin/env bash
# Build chat.pyz with shiv, reproducibly.
#   ./build.sh          build ./chat.pyz
#   ./build.sh test     type-check app/ (mypy), build, then run the whole test suite
#                       in a private venv
# Extra arguments after `test` go to pytest (e.g. ./build.sh test -k plain).
# SHIV=/path/to/shiv uses that shiv instead of making the build venv (the
# reproducibility test builds copies of the tree with the repo's own shiv).
set -euo pipefail
cd "$(dirname "$0")"
umask 022

PYTHON="${PYTHON:-python3}"
BUILD_DIR="build"
SHIV_VERSION="1.0.8"
# A fixed date for every zip entry: two builds of one commit give one sha256.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1700000000}"

make_venv() {  # make_venv DIR REQUIREMENT... : a venv with pinned packages, made once
    local dir="$1"; shift
    local stamp="$dir/.installed"
    local want="$*"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    echo "$want" > "$stamp"
}

build_pyz() {
    local shiv="${SHIV:-$BUILD_DIR/venv-build/bin/shiv}"
    [[ -n "${SHIV:-}" ]] || make_venv "$BUILD_DIR/venv-build" "shiv==$SHIV_VERSION"
    local stage="$BUILD_DIR/stage"
    rm -rf "$stage"
    mkdir -p "$stage"
    # Stage only the package: no tests, caches or VCS files in the pyz.
    tar -C . --exclude='__pycache__' --exclude='*.pyc' -cf - app | tar -C "$stage" -xf -
    find "$stage" -type d -exec chmod 755 {} +
    find "$stage" -type f -exec chmod 644 {} +
    local raw="$BUILD_DIR/chat.raw.pyz"
    "$shiv" --site-packages "$stage" --reproducible \
        --python '/usr/bin/env python3' -e app.cli:main -o "$raw" >/dev/null
    # Replace shiv's __main__.py with ours: it guards old Pythons and picks a
    # writable unpack directory before shiv's bootstrap can fail.
    "$PYTHON" - "$raw" chat.pyz.tmp app/_pyz_main.py <<'PY'
import json, sys, zipfile
raw, out, main_py = sys.argv[1:]
with open(raw, "rb") as f:
    shebang = f.readline()
with zipfile.ZipFile(raw) as src, open(out, "wb") as dst:
    dst.write(shebang)
    with zipfile.ZipFile(dst, "w") as zout:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "__main__.py":
                build_id = json.loads(src.read("environment.json"))["build_id"]
                data = open(main_py, "rb").read().replace(b"@BUILD_ID@", build_id.encode())
            zout.writestr(info, data)
PY
    chmod 755 chat.pyz.tmp
    mv chat.pyz.tmp chat.pyz
    echo "built chat.pyz ($(sha256sum chat.pyz | cut -c1-16))"
}

case "${1:-build}" in
    build)
        build_pyz
        ;;
    test)
        shift
        make_venv "$BUILD_DIR/venv-test" pytest==8.3.4 pyte==0.8.2 hypothesis==6.122.3 \
            pytest-timeout==2.3.1 mypy==1.13.0 cryptography==43.0.3
        "$BUILD_DIR/venv-test/bin/mypy" --config-file .ci/mypy.ini --cache-dir "$BUILD_DIR/mypy-cache" app
        build_pyz
        CHAT_PYZ="$PWD/chat.pyz" exec "$BUILD_DIR/venv-test/bin/python" -m pytest tests "$@"
        ;;
    *)
        echo "usage: ./build.sh [build|test [pytest args...]]" >&2
        exit 2
        ;;
esac
