"""Convert the embedded model's GGUF file into an ordinary Hugging Face folder vLLM can serve.

Runs with the vLLM environment's Python (it needs torch, transformers and gguf, which the project's
own environment does not carry), so it imports nothing from hybrid-nc:

    .venv-vllm/bin/python reasoner/backends/llm_prepare.py MODEL.gguf OUT_DIR

llm_embedded.prepare() runs it and relays the "prepare: ..." lines as progress. Why the detour
through a fresh model: transformers dequantizes a GGUF file on load (4-bit -> float32) but refuses
to save a model "quantized with gguf"; a model built from the same config without
`quantization_config`, given the loaded weights, saves as model.safetensors with its tokenizer and
chat template (../shared/notes/embedded-llm.md, measured here: ~40 s, 134.5M parameters).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # 1. the tokenizer (with its chat template) and the dequantized weights
    print(f"prepare: reading {gguf.name} (step 1/3)", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                  dtype=torch.float32)

    # 2. the same architecture without the GGUF marker, holding those weights
    print("prepare: rebuilding the model in float32 (step 2/3)", flush=True)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # tied embeddings share one tensor; anything else missing would be a broken conversion
    missing = [k for k in missing if k != "lm_head.weight" or not config.tie_word_embeddings]
    if missing or unexpected:
        raise SystemExit(f"prepare: weights do not fit: missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}")

    # 3. an ordinary folder: config.json, model.safetensors, tokenizer files, chat template
    print(f"prepare: writing {out} (step 3/3)", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    if not getattr(tokenizer, "chat_template", None):
        raise SystemExit("prepare: the tokenizer has no chat template")
    count = sum(p.numel() for p in model.parameters())
    print(f"prepare: done, {count / 1e6:.1f}M parameters", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python llm_prepare.py MODEL.gguf OUT_DIR")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
