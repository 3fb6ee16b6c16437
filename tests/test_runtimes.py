"""SEGMENTATION_RUNTIME: the garment model's passes on onnxruntime, or on OpenVINO where the CPU computes bf16."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from garment_search.segmentation import runtimes
from garment_search.segmentation.runtimes import OpenVinoModel, openvino_bf16, runtime_wanted
from garment_search.segmentation.sessions import (GARMENT_BODY_OUTPUT, GARMENT_MODEL_FILE, _normalise,
                                                  new_segmentation_session)

if not GARMENT_MODEL_FILE.exists():
    pytest.skip("garment model not present", allow_module_level=True)


def _photo(seed: int = 5) -> Image.Image:
    """A figure in a red top over blue trousers on a grey backdrop, with noise: the model reads garments in it."""
    g = np.random.default_rng(seed)
    arr = np.full((400, 300, 3), 150, np.uint8)
    arr[60:100, 125:175] = (220, 180, 150)  # a face
    arr[100:220, 90:210] = (200, 40, 60)
    arr[220:380, 100:200] = (40, 60, 160)
    return Image.fromarray(np.clip(arr + g.integers(-20, 20, arr.shape), 0, 255).astype(np.uint8))


@pytest.mark.parametrize("setting,on_gpu,for_index,bf16,wanted", [
    (None, False, False, True, "openvino"),  # auto: a CPU that computes bf16 runs OpenVINO
    ("auto", False, False, False, "onnxruntime"),  # in float32 OpenVINO is no faster: onnxruntime
    ("auto", True, False, True, "onnxruntime"),  # a GPU keeps onnxruntime's CUDA provider
    ("openvino", False, True, True, "onnxruntime"),  # an index never depends on the machine that built it
    ("onnxruntime", False, False, True, "onnxruntime"),
    ("OpenVINO", False, False, False, "openvino"),  # forced: OpenVINO at whatever precision the CPU has
])
def test_the_runtime_follows_the_setting_and_the_hardware(monkeypatch, setting, on_gpu, for_index, bf16, wanted):
    if setting is None:
        monkeypatch.delenv("SEGMENTATION_RUNTIME", raising=False)
    else:
        monkeypatch.setenv("SEGMENTATION_RUNTIME", setting)
    monkeypatch.setattr(runtimes, "openvino_bf16", lambda: bf16)
    assert runtime_wanted(on_gpu, for_index) == wanted


def test_a_misspelt_runtime_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "tensorrt")
    with pytest.raises(ValueError, match="auto, onnxruntime, openvino"):
        runtime_wanted(False, False)


def test_openvino_reads_the_garment_model_as_onnxruntime_does(monkeypatch):
    """In float32 the two runtimes agree to 1e-4. In bf16 the body's garment probability moves by a few hundredths
    (docs/benchmarks.md: ≤ 0.05 on sample photos) and so do the group channels it scales; with the split after the
    body read in float32 (``bf16_part``), the group shares move less than with the whole graph in bf16."""
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "onnxruntime")
    onnx = new_segmentation_session("garment", tta="off")
    assert onnx.runtime == "onnxruntime"
    whole = OpenVinoModel(str(GARMENT_MODEL_FILE))
    split = OpenVinoModel(str(GARMENT_MODEL_FILE), bf16_part=GARMENT_BODY_OUTPUT)
    assert split.precision == ("bf16-f32" if whole.precision == "bf16" else "f32")
    for size in [(320, 240), (384, 288)]:
        x = _normalise(_photo(), (size[1], size[0]))
        want = onnx.pass_at(size)(x)[0]
        got = {name: model.pass_at(size)(x) for name, model in (("whole", whole), ("split", split))}
        for out in got.values():
            assert out.shape == (1, 4, *size)
            assert np.abs(out[0] - want).max() < (0.15 if whole.precision == "bf16" else 1e-4)
            assert (out[0].argmax(0) == want.argmax(0)).mean() > 0.98
        shares = {name: _shares(out[0]) for name, out in got.items()}
        if whole.precision == "bf16":
            assert np.abs(shares["split"] - _shares(want)).mean() < np.abs(shares["whole"] - _shares(want)).mean()


def _shares(maps: np.ndarray) -> np.ndarray:
    """Each group's share of the garment probability: the split, apart from how sure the body is."""
    return maps[1:] / np.clip(maps[1:].sum(0, keepdims=True), 1e-6, None)


def test_threads_share_a_compiled_model_without_sharing_a_request():
    """The Functions Framework answers requests from threads: passes running at once each borrow their own infer
    request, and the pool keeps only as many as ever ran at once, however many threads have asked."""
    model = OpenVinoModel(str(GARMENT_MODEL_FILE), bf16_part=GARMENT_BODY_OUTPUT)
    inputs = [_normalise(_photo(seed), (240, 320)) for seed in range(4)]
    alone = [model.pass_at((320, 240))(x) for x in inputs]
    assert model.pooled_requests((320, 240)) == 1
    together: list[np.ndarray | None] = [None] * len(inputs)
    start = threading.Barrier(len(inputs))

    def read(i: int) -> None:
        start.wait()
        for _ in range(3):
            together[i] = model.pass_at((320, 240))(inputs[i])

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)
    pooled = model.pooled_requests((320, 240))
    assert 1 <= pooled <= len(inputs)
    for _ in range(len(inputs)):  # one new thread after another: each borrows an idle request, none is added
        t = threading.Thread(target=lambda: model.pass_at((320, 240))(inputs[0]))
        t.start()
        t.join()
    assert model.pooled_requests((320, 240)) == pooled


def test_the_runtime_is_named_in_the_identity_and_index_builds_stay_on_onnxruntime(monkeypatch):
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "onnxruntime")
    onnx = new_segmentation_session("garment", tta="mirror")
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "openvino")
    vino = new_segmentation_session("garment", tta="mirror")
    assert vino.runtime == f"openvino-{vino.openvino.precision}"
    assert vino.runtime in ("openvino-bf16-f32", "openvino-f32")  # the body in bf16 and the split in f32, or all f32
    name, rest = onnx.identity.split("+masks", 1)
    assert vino.identity == f"{name}+{vino.runtime}+masks{rest}"  # a remove_bg cut-out says what computed it
    index = new_segmentation_session("garment", tta="full", for_index=True)  # what load_index_segmenter builds
    assert index.runtime == "onnxruntime" and "openvino" not in index.identity
    masks = [s.probabilities(_photo()) for s in (onnx, vino)]
    assert masks[0].shape == masks[1].shape
    assert ((masks[0].argmax(0)) == (masks[1].argmax(0))).mean() > 0.98


def test_openvino_bf16_is_only_claimed_where_the_cpu_computes_it():
    import openvino as ov

    capabilities = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert openvino_bf16() == ("BF16" in capabilities and OpenVinoModel(str(GARMENT_MODEL_FILE)).precision == "bf16")
