"""Text-encoding latency per query (batch of one) for the served encoders and for ViT-B-32 (random weights).

    .venv/bin/python -m bench.text_latency [--runs 200]

Issue #4 asks for the embedded model's p50 (≤ 15 ms on this CPU) next to general CLIP's: ViT-B-32 is timed
with random weights (its architecture, not its training, sets the cost), through the same open_clip calls.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.machine import machine_line
from bench.remove_bg import percentile
from garment_search.embedding import EMBEDDED_MODEL, Embedder
from garment_search.embedding.text_onnx import EMBEDDED_TEXT_ONNX, OnnxTextEncoder

WORDS = ["pastel", "coloured", "tunic", "orange", "checked", "shirt", "floral", "navy", "blue", "crew", "neck", "long"]


def timed(encode, runs: int) -> list[float]:
    out = []
    for i in range(runs + 10):
        text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(3 + i % 4)) + f" {i}"
        t = time.perf_counter()
        encode(text)
        out.append((time.perf_counter() - t) * 1000)
    return out[10:]  # warm-up dropped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    import open_clip

    vit, _, _ = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    vit.eval()
    vit_tok = open_clip.get_tokenizer("ViT-B-32")

    def vit_encode(text: str):
        with torch.inference_mode():
            return vit.encode_text(vit_tok([text]))

    rows = {
        f"{EMBEDDED_MODEL}, ONNX (served by search)": timed(OnnxTextEncoder(EMBEDDED_TEXT_ONNX).encode_text, args.runs),
        f"{EMBEDDED_MODEL}, open_clip on torch": timed(Embedder().load().encode_text, args.runs),
        "ViT-B-32 (random weights), open_clip on torch": timed(vit_encode, args.runs),
    }
    print(f"{args.runs} single-query encodings each, {machine_line()}, torch threads {torch.get_num_threads()}")
    print("| text encoder | p50 | p95 |")
    print("|---|---|---|")
    for name, ms in rows.items():
        print(f"| {name} | {statistics.median(ms):.1f} ms | {percentile(ms, 95):.1f} ms |")


if __name__ == "__main__":
    main()
