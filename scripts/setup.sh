#!/usr/bin/env bash
# Idempotent set-up on Debian 12 as root: system packages, .venv, Python packages.
# Fast when already done (skips apt when everything is present, pip when pyproject is unchanged).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3-venv espeak-ng libespeak-ng1 flite sox libsox-fmt-all libsndfile1
              libportaudio2 pocketsphinx-testdata pulseaudio pulseaudio-utils libasound2-plugins
              postgresql chromium chromium-driver baresip sip-tester kamailio
              asterisk-core-sounds-en asterisk-core-sounds-en-wav)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.voicebot-installed
want=$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages (first run takes a few minutes)"
  log=.venv/pip.log; : > "$log"
  pipi() { .venv/bin/pip install --progress-bar off "$@" >>"$log" 2>&1 || { tail -40 "$log"; exit 1; }; }
  pipi --upgrade pip
  # CPU torch first: PyPI's Linux torch wheels depend on gigabytes of CUDA libraries (nvidia-*);
  # the +cpu build comes from PyTorch's CPU index (or a local wheelhouse when offline).
  pipi "torch==2.13.0+cpu" --extra-index-url https://download.pytorch.org/whl/cpu
  pipi -e ".[test]"
  # Smart Turn v3.2 and Silero VAD ONNX files ship in pipecat-ai; its own dependencies would
  # downgrade soxr/protobuf and pull numba, and voicebot never imports pipecat: data files only.
  pipi --no-deps "pipecat-ai==1.14.0"
  .venv/bin/python -c "import voicebot, torch, faster_whisper, webrtcvad, piper, spacy, hypothesis
assert torch.version.cuda is None, 'a CUDA build of torch was installed'"
  if .venv/bin/pip list 2>/dev/null | grep -qiE '^(nvidia-|triton )'; then
    echo "setup: CUDA packages were pulled in:"; .venv/bin/pip list | grep -iE '^(nvidia-|triton )'; exit 1
  fi
  echo "$want" > "$stamp"
fi
