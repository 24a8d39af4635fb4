#!/usr/bin/env bash
# Installs the programs that the end-to-end tests drive, when missing (Debian packages):
#   tmux        the e2e test binary (tests/e2e/: workbench.rs, runs.rs, disk_full.rs,
#               terminals.rs) and the workbench's benchmarks (tests/tui/bench.rs)
#   Xvfb, xterm, kitty, ImageMagick's import, xdotool, script
#               tests/e2e/terminals.rs (real terminals on a private X server)
# kitty draws with OpenGL 3.3; under Xvfb that is Mesa's software renderer, which
# --no-install-recommends does not guarantee, so its libraries are listed explicitly,
# with the X libraries kitty's GLFW loads at run time and the fonts of xterm and kitty.
# Idempotent: when everything is present it prints one line and exits 0. When something
# is missing and apt-get cannot be used (not root, no sudo), it names the packages to
# install and exits 1.
set -euo pipefail

# program:package
tools=(
  tmux:tmux
  Xvfb:xvfb
  xterm:xterm
  kitty:kitty
  import:imagemagick
  xdotool:xdotool
  script:bsdutils
)
# Libraries and fonts without a program to look for (checked with dpkg where there is one).
libs=(
  libgl1
  libglx-mesa0
  libgl1-mesa-dri
  libegl1
  libxcursor1
  libxi6
  libxrandr2
  libxinerama1
  fonts-dejavu-core
  xfonts-base
)

missing=()
for entry in "${tools[@]}"; do
  tool="${entry%%:*}"
  package="${entry#*:}"
  command -v "$tool" >/dev/null 2>&1 || missing+=("$package")
done
if command -v dpkg-query >/dev/null 2>&1; then
  for package in "${libs[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
    [ "$status" = "install ok installed" ] || missing+=("$package")
  done
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-test-tools: all present (tmux Xvfb xterm kitty import xdotool script, Mesa for kitty)"
  exit 0
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    sudo=(none)
  fi
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "${sudo[0]:-}" = none ]; then
  echo "setup-test-tools: missing packages: ${missing[*]}" >&2
  echo "setup-test-tools: install them as root, e.g. apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "setup-test-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"

still=()
for entry in "${tools[@]}"; do
  tool="${entry%%:*}"
  command -v "$tool" >/dev/null 2>&1 || still+=("$tool")
done
if [ "${#still[@]}" -ne 0 ]; then
  echo "setup-test-tools: still missing after the install: ${still[*]}" >&2
  exit 1
fi
