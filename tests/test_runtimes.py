"""SEGMENTATION_RUNTIME: the garment model's passes on onnxruntime, or on OpenVINO where the CPU computes bf16."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from garment_search.segmentation import runtimes
from garment_search.segmentation.runtimes import (INT8_SOURCE_KEY, OpenVinoModel, int8_body, int8_body_path,
                                                  openvino_bf16, runtime_wanted)
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


NO_INT8 = "/nowhere/garment.onnx"  # a model without an int8 body beside it (a newly trained split)


@pytest.mark.parametrize("setting,on_gpu,for_index,bf16,model,wanted", [
    (None, False, False, True, GARMENT_MODEL_FILE, "openvino-int8"),  # auto: a bf16 CPU runs the int8 body
    (None, False, False, True, NO_INT8, "openvino"),  # … or the bf16 body where the model has no int8 body
    ("auto", False, False, False, GARMENT_MODEL_FILE, "onnxruntime"),  # no bf16: OpenVINO was not measured faster
    ("auto", True, False, True, GARMENT_MODEL_FILE, "onnxruntime"),  # a GPU keeps onnxruntime's CUDA provider
    ("openvino", False, True, True, GARMENT_MODEL_FILE, "onnxruntime"),  # an index never depends on the machine
    (None, False, True, True, GARMENT_MODEL_FILE, "onnxruntime"),
    ("onnxruntime", False, False, True, GARMENT_MODEL_FILE, "onnxruntime"),
    ("OpenVINO", False, False, False, GARMENT_MODEL_FILE, "openvino"),  # forced: at whatever precision the CPU has
    ("openvino-int8", False, False, True, GARMENT_MODEL_FILE, "openvino-int8"),  # forced: the body's int8 copy
    ("openvino-int8", False, True, True, GARMENT_MODEL_FILE, "onnxruntime"),
])
def test_the_runtime_follows_the_setting_and_the_hardware(monkeypatch, setting, on_gpu, for_index, bf16, model,
                                                          wanted):
    if setting is None:
        monkeypatch.delenv("SEGMENTATION_RUNTIME", raising=False)
    else:
        monkeypatch.setenv("SEGMENTATION_RUNTIME", setting)
    monkeypatch.setattr(runtimes, "openvino_bf16", lambda: bf16)
    assert runtime_wanted(on_gpu, for_index, model) == wanted


def test_a_misspelt_runtime_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "tensorrt")
    with pytest.raises(ValueError, match="auto, onnxruntime, openvino, openvino-int8"):
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
    capabilities = runtimes.openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert openvino_bf16() == ("BF16" in capabilities and OpenVinoModel(str(GARMENT_MODEL_FILE)).precision == "bf16")


def test_the_int8_body_reads_garments_as_the_float_model_does(monkeypatch):
    """The shipped int8 body (``training.segmentation.quantise``) was quantised from the shipped model, and in front of
    the float32 split it keeps the float model's garment-or-not decision on nearly every pixel; int8 moves the maps
    more than bf16 does (docs/benchmarks.md: a few tenths at most on sample photos, on garment edges)."""
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "onnxruntime")
    onnx = new_segmentation_session("garment", tta="off")
    model = OpenVinoModel(str(GARMENT_MODEL_FILE), bf16_part=GARMENT_BODY_OUTPUT, body=int8_body(GARMENT_MODEL_FILE))
    assert model.precision == "int8-f32"
    for size in [(320, 240), (384, 288)]:
        x = _normalise(_photo(), (size[1], size[0]))
        want, got = onnx.pass_at(size)(x)[0], model.pass_at(size)(x)[0]
        assert got.shape == want.shape
        assert ((got[0] < 0.5) == (want[0] < 0.5)).mean() > 0.97
        assert (got.argmax(0) == want.argmax(0)).mean() > 0.95
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "openvino-int8")
    session = new_segmentation_session("garment", tta="three")
    assert session.runtime == "openvino-int8-f32" and "+openvino-int8-f32+" in session.identity


def test_an_int8_body_from_another_model_is_refused(tmp_path):
    import openvino as ov

    model = tmp_path / "garment.onnx"
    model.write_bytes(GARMENT_MODEL_FILE.read_bytes())  # the same bytes: its body fits
    body = runtimes.openvino_core().read_model(str(int8_body_path(GARMENT_MODEL_FILE)))
    ov.save_model(body, str(int8_body_path(model)), compress_to_fp16=False)
    assert int8_body(model) == str(int8_body_path(model)) and runtimes.int8_ready(model)
    body.set_rt_info("0123456789ab", [INT8_SOURCE_KEY])  # quantised from an older model
    ov.save_model(body, str(int8_body_path(model)), compress_to_fp16=False)
    with pytest.raises(ValueError, match="quantised from another model.*training.segmentation.quantise"):
        int8_body(model)
    assert not runtimes.int8_ready(model)  # auto runs the bf16 body instead
    int8_body_path(model).unlink()
    with pytest.raises(FileNotFoundError, match="SEGMENTATION_RUNTIME=openvino"):
        int8_body(model)


def test_models_that_come_and_go_leave_the_thread_a_live_signal_stack():
    """An OpenVINO Core installs an alternate signal stack on the thread that compiles with it, and puts the previous
    one back when it goes: Cores that went out of order left the main thread's alternate stack in freed memory, and
    the next signal Python handled there (a loader process ending) killed the test suite with SIGSEGV. Every model
    shares the process's one Core (``runtimes.openvino_core``), so the stack stays mapped."""
    import ctypes
    import gc

    libc = ctypes.CDLL(None)

    class Stack(ctypes.Structure):
        _fields_ = [("sp", ctypes.c_void_p), ("flags", ctypes.c_int), ("size", ctypes.c_size_t)]

    def signal_stack_mapped() -> bool:
        stack = Stack()
        assert libc.sigaltstack(None, ctypes.byref(stack)) == 0
        if stack.flags & 2 or not stack.sp:  # SS_DISABLE: no alternate stack, nothing to point at freed memory
            return True
        for line in open("/proc/self/maps"):
            start, end = (int(v, 16) for v in line.split()[0].split("-"))
            if start <= stack.sp and stack.sp + stack.size <= end:
                return True
        return False

    x = _normalise(_photo(), (240, 320))
    first = OpenVinoModel(str(GARMENT_MODEL_FILE), bf16_part=GARMENT_BODY_OUTPUT, body=int8_body(GARMENT_MODEL_FILE))
    first.pass_at((320, 240))(x)
    second = OpenVinoModel(str(GARMENT_MODEL_FILE), bf16_part=GARMENT_BODY_OUTPUT)
    second.pass_at((320, 240))(x)
    del first  # out of order: the first goes while the second stays
    gc.collect()
    assert signal_stack_mapped()
    del second
    gc.collect()
    assert signal_stack_mapped()


def test_reading_sizes_compile_side_by_side_and_read_as_one_compiled_alone(monkeypatch):
    """A cold start compiles every reading size's graphs at once (most of remove_bg's cold start); each size still
    compiles once, and its passes read exactly what a model compiled on its own reads."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("SEGMENTATION_RUNTIME", "openvino-int8")
    session = new_segmentation_session("garment", tta="three")
    sizes = session.tta_sizes()
    assert len(sizes) == 2 and all(size in session.openvino._compiled for size in sizes)
    alone = OpenVinoModel(str(GARMENT_MODEL_FILE), session._threads, bf16_part=GARMENT_BODY_OUTPUT,
                          body=int8_body(GARMENT_MODEL_FILE))
    for size in sizes:
        x = _normalise(_photo(), (size[1], size[0]))
        np.testing.assert_array_equal(session.pass_at(size)(x), alone.pass_at(size)(x))
    fresh = OpenVinoModel(str(GARMENT_MODEL_FILE), bf16_part=GARMENT_BODY_OUTPUT)
    with ThreadPoolExecutor(4) as pool:
        compiled = list(pool.map(fresh.compiled_at, [(320, 240)] * 4))
    assert all(c is compiled[0] for c in compiled)  # four threads asking one size: one compile
