"""Fine-tune Whisper tiny.en on the audio of scripts/finetune_whisper_data.py (CPU, fp32, AdamW),
then write it back as a CTranslate2 model directory `WhisperRecognizer(model=DIR)` and
$VOICEBOT_WHISPER_MODEL load (docs/asr.md "Fine-tuning tiny.en on the telephone band").

Each utterance reaches the model as the recogniser would hand it over: 16 kHz samples, the line's
noise floor subtracted (asr/denoise.py), a digit string's empty high band folded in
(asr/bandwidth.py), log-Mel features in the 10 s window (asr/features.py, whisper.window_frames),
and the decoder primed with the prompt that utterance's prompt kind gets (domain.bias_prompt: the
banking sentence for open speech, "Yes. No.", one of the three digit prompts), or now and then
none. The loss is on the transcript tokens and the end of text only, never on the prompt.

    python scripts/finetune_whisper_train.py [--data var/asrft/data/manifest.jsonl]
        [--out var/asrft] [--lr 1.5e-5] [--batch 16] [--epochs 1] [--max-minutes 40]

Writes <out>/ckpt-<step>.pt, and <out>/model-ct2 (the final weights) and <out>/model-ct2-<step>
(each checkpoint) as CTranslate2 directories."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from finetune_whisper_weights import encode, load_hf, packaged_dir, write_ct2  # noqa: E402

from voicebot.asr.base import Hints  # noqa: E402
from voicebot.asr.domain import DIGIT_PROMPTS, bias_prompt  # noqa: E402

SEED = 7
IGNORE = -100
NO_PROMPT = {"free": 0.3, "yesno": 0.3, "digits": 0.15, "rating": 0.3}  # share decoded without a prompt
HINTS = {"free": Hints(), "yesno": Hints(kind="yesno"), "digits": Hints(kind="digits", length=8),
         "rating": Hints(kind="digits", length=1)}


class Features:
    """Log-Mel features of a manifest row, exactly as WhisperRecognizer._prepare/_encode make them."""

    def __init__(self) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor

        self.extractor = FeatureExtractor(feature_size=80)

    def __call__(self, row: dict) -> np.ndarray:
        from voicebot.asr.bandwidth import telephone_view
        from voicebot.asr.denoise import suppress_noise
        from voicebot.asr.features import log_mel
        from voicebot.asr.whisper import SAFE_WINDOW_SECONDS, window_frames
        from voicebot.audio.wavio import read_wav

        pcm = read_wav(row["wav"]).canonical()
        samples = suppress_noise(pcm.to_float(), pcm.rate)
        if row["kind"] == "digits":
            samples = telephone_view(samples, pcm.rate)
        return log_mel(self.extractor, samples, window_frames(samples.shape[0] / 16000, SAFE_WINDOW_SECONDS))


class Tokens:
    """Prompt + transcript token ids as the recogniser's decoder sees them (WhisperRecognizer._prompt)."""

    def __init__(self) -> None:
        import tokenizers
        from faster_whisper.tokenizer import Tokenizer

        hf = tokenizers.Tokenizer.from_file(str(packaged_dir() / "tokenizer.json"))
        self.tok = Tokenizer(hf, False, task="transcribe", language="en")

    def __call__(self, row: dict, rng: random.Random) -> tuple[list[int], list[int]]:
        tok = self.tok
        plain = [*tok.sot_sequence, tok.no_timestamps]
        if rng.random() < NO_PROMPT[row["kind"]]:
            prompt = plain
        else:
            attempt = rng.randrange(len(DIGIT_PROMPTS)) if row["kind"] == "digits" else 0
            bias = tok.encode(" " + bias_prompt(HINTS[row["kind"]], attempt))[:100]
            prompt = [tok.sot_prev, *bias, *plain]
        return prompt, [*tok.encode(" " + row["label"]), tok.eot]


def batch_tensors(rows: list[dict], features: Features, tokens: Tokens, rng: random.Random):
    import torch

    feats = torch.from_numpy(np.stack([features(r) for r in rows]))
    seqs = [tokens(r, rng) for r in rows]
    width = max(len(p) + len(t) for p, t in seqs) - 1
    inputs = torch.full((len(rows), width), tokens.tok.eot, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, (prompt, target) in enumerate(seqs):
        seq = prompt + target
        inputs[i, : len(seq) - 1] = torch.tensor(seq[:-1])
        labels[i, len(prompt) - 1: len(seq) - 1] = torch.tensor(target)
    return feats, inputs, labels


def loss_of(model, feats, inputs, labels):
    return model(encoder_outputs=(encode(model, feats),), decoder_input_ids=inputs, labels=labels).loss


def mean_loss(model, rows, features, tokens, batch: int) -> float:
    import torch

    rng, total = random.Random(SEED), []
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            total.append(float(loss_of(model, *batch_tensors(rows[i:i + batch], features, tokens, rng))))
    return float(np.mean(total))


def save(model, out: Path, step: int, final: bool) -> None:
    import torch

    torch.save(model.state_dict(), out / f"ckpt-{step}.pt")
    write_ct2(model, out / ("model-ct2" if final else f"model-ct2-{step}"))


def main() -> None:
    import torch
    from tqdm import tqdm

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("var/asrft/data/manifest.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("var/asrft"))
    parser.add_argument("--lr", type=float, default=1.5e-5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--save-every", type=int, default=60)
    parser.add_argument("--max-minutes", type=float, default=40.0)
    parser.add_argument("--check-rows", type=int, default=48, help="rows kept out of training for a loss check")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    rng.shuffle(rows)
    check, rows = rows[: args.check_rows], rows[args.check_rows:]
    features, tokens = Features(), Tokens()
    model = load_hf()
    print(f"{len(rows)} training rows, {len(check)} check rows; check loss before: "
          f"{mean_loss(model, check, features, tokens, args.batch):.4f}", flush=True)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    steps = int(len(rows) * args.epochs) // args.batch
    # linear warm-up, then linear decay to 0 at the last step; once the speed is known (after the
    # warm-up) the last step is the one the time box allows, so a cut run still ends at lr 0
    planned = {"steps": steps}
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / args.warmup) * max(0.0, 1 - s / planned["steps"]))
    order = [rows[i % len(rows)] for i in range(steps * args.batch)]
    started, bar = time.time(), tqdm(range(steps), desc="fine-tune")
    step = 0
    for step in bar:
        loss = loss_of(model, *batch_tensors(order[step * args.batch:(step + 1) * args.batch], features, tokens, rng))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{schedule.get_last_lr()[0]:.2e}")
        if step + 1 == args.warmup:
            per_step = (time.time() - started) / (step + 1)
            planned["steps"] = min(steps, int(args.max_minutes * 60 / per_step))
            print(f"{per_step:.1f} s a step: {planned['steps']} of {steps} steps fit the time box", flush=True)
        if step % 10 == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
        if (step + 1) % args.save_every == 0:
            save(model, args.out, step + 1, final=False)
        if step + 1 >= planned["steps"] or time.time() - started > args.max_minutes * 60 * 1.1:
            print(f"stopped at step {step + 1} of {steps} (time box)", flush=True)
            break
    model.eval()
    save(model, args.out, step + 1, final=True)
    print(f"check loss after {step + 1} steps: {mean_loss(model, check, features, tokens, args.batch):.4f}; "
          f"{(time.time() - started) / 60:.1f} min; CT2 model in {args.out / 'model-ct2'}", flush=True)


if __name__ == "__main__":
    main()
