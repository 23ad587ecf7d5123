#!/usr/bin/env bash
# Installs mmtp's build and test dependencies from Debian 12 packages (when missing; needs
# root or sudo), then configures and builds into ./build (Release). Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(cmake g++ make libeigen3-dev libboost-program-options-dev libfmt-dev liblbfgspp-dev
          nlohmann-json3-dev libgtest-dev googletest python3 python3-ase python3-numpy python3-scipy python3-matplotlib
          pybind11-dev python3-dev python3-pytest liblammps-dev lammps openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2
