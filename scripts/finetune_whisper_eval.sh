#!/bin/bash
# Dev-set measurements of a Whisper CTranslate2 model dir through the project's real paths
# (docs/asr.md "Fine-tuning tiny.en on the telephone band"). Dev sets only: never --set heldout.
#   scripts/finetune_whisper_eval.sh TAG [MODEL_DIR]   (no MODEL_DIR: the packaged tiny.en)
# writes $OUT/{intents,digits}_TAG.json; with MODEL_DIR also $OUT/wer_TAG.json (that model beside
# the packaged one, utterance by utterance, in one bench_asr run).
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=$1 MODEL=${2:-}
OUT=${OUT:-var/asrft/eval}
PY=${PY:-.venv/bin/python}
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1
mkdir -p "$OUT"
export VOICEBOT_WHISPER_MODEL=${MODEL:-packaged}
MANIFEST=$($PY scripts/build_eval_audio.py dev)
$PY -m voicebot eval --audio "$MANIFEST" --json > "$OUT/intents_$TAG.json"
$PY scripts/bench_digits.py --set dev --baseline '' --json > "$OUT/digits_$TAG.json"
if [ -n "$MODEL" ]; then
  PACKAGED=$($PY -c "from voicebot.asr.whisper_model import packaged_model_dir; print(packaged_model_dir())")
  env -u VOICEBOT_WHISPER_MODEL $PY scripts/bench_asr.py --backends whisper --sets real,piper,flite:slt,flite:kal \
    --option model="$MODEL" --compare model="$PACKAGED" --json "$OUT/wer_$TAG.json" > "$OUT/wer_$TAG.txt"
fi
