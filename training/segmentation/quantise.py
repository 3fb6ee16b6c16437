"""Quantise the garment model's body to int8 for OpenVINO on CPUs (``SEGMENTATION_RUNTIME=openvino-int8``).

    python -m training.segmentation.quantise [--model models/garment_groupnet.onnx] [--ccp ../shared/datasets/ccp]

The body (garment or not, ~95% of a pass) is cut from the model at ``GARMENT_BODY_OUTPUT``, as OpenVINO's bf16 path
cuts it, and quantised by NNCF's post-training quantisation, calibrated on what remove_bg reads: worn outfits (CCP
*training* photos 0001–0600, every other one: 300) and lone garments (the first 10 *training* photos of each
clothing-small folder: 100), read as the session reads them at the trained size; never validation photos or the
catalogue. The
group split after the body stays float32 and is read from the model itself. The result is an OpenVINO IR beside the
model (``runtimes.int8_body_path``) that records the model's digest, so it never runs in front of another split.
NNCF is a training requirement only (requirements/train.txt); serving reads the IR with OpenVINO alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from garment_search.catalogue import product_photos
from garment_search.identity import file_digest
from garment_search.onnx_metadata import onnx_metadata
from garment_search.segmentation.runtimes import INT8_SOURCE_KEY, int8_body_path, openvino_core, output_named
from garment_search.segmentation.sessions import GARMENT_BODY_OUTPUT, GARMENT_MODEL_FILE, SIZE_METADATA, _normalise
from training.segmentation.data import TRAIN_IDS, ccp_files


def quantise_body(model: Path, photos: list[Path], out: Path) -> Path:
    """Write the int8 body of ``model`` to ``out`` (an OpenVINO IR), calibrated on ``photos``."""
    import nncf
    import openvino as ov

    height, width = (int(onnx_metadata(str(model))[key]) for key in SIZE_METADATA)
    graph = openvino_core().read_model(str(model))
    graph.reshape({graph.inputs[0].get_any_name(): [1, 3, height, width]})
    body = ov.Model([output_named(graph, GARMENT_BODY_OUTPUT)], graph.get_parameters(), "body")
    data = nncf.Dataset(photos, lambda p: _normalise(Image.open(p).convert("RGB"), (width, height)))
    quantised = nncf.quantize(body, data, subset_size=len(photos))
    quantised.set_rt_info(file_digest(model), [INT8_SOURCE_KEY])
    ov.save_model(quantised, str(out), compress_to_fp16=False)
    return out


def lone_garment_photos(folders: Path, per_folder: int) -> list[Path]:
    """The first ``per_folder`` photos (by name) of each class folder: one garment each, on plain backdrops."""
    return [photo for photos in product_photos(folders).values() for photo in photos[:max(per_folder, 0)]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=GARMENT_MODEL_FILE)
    ap.add_argument("--ccp", type=Path, default=Path("../shared/datasets/ccp"))
    ap.add_argument("--every", type=int, default=2, help="calibrate on every n-th CCP training photo")
    ap.add_argument("--clothing", type=Path, default=Path("../shared/datasets/clothing-small/train"),
                    help="clothing-small *training* folders: lone garments (flat lays, product shots) to calibrate on")
    ap.add_argument("--per-folder", type=int, default=10, help="the first n photos of each clothing-small folder")
    ap.add_argument("--out", type=Path, help=f"default: beside the model ({int8_body_path('x.onnx')})")
    args = ap.parse_args()
    photos = [image for image, _ in ccp_files(args.ccp, TRAIN_IDS)][::args.every]
    lone = lone_garment_photos(args.clothing, args.per_folder)
    print(f"calibrating on {len(photos)} CCP training photos and {len(lone)} clothing-small training photos",
          flush=True)
    out = quantise_body(args.model, photos + lone, args.out or int8_body_path(args.model))
    print(f"wrote {out} and {out.with_suffix('.bin')}", flush=True)


if __name__ == "__main__":
    main()
