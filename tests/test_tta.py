"""SEGMENTATION_TTA: the garment model also reads the photo mirrored (``mirror``), and at 1.2× too (``full``:
``TTA_SCALES``), the maps averaged."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime")

import onnxruntime as ort  # noqa: E402

from garment_search.identity import file_digest  # noqa: E402
from garment_search.segmentation import sessions as session_module  # noqa: E402
from garment_search.segmentation.sessions import (GARMENT_MODEL_FILE, GPU_PROVIDERS, READING_SETS, TTA_SCALES,  # noqa: E402
                                                  _normalise, new_segmentation_session)

MODEL = GARMENT_MODEL_FILE
if not MODEL.exists():
    pytest.skip("garment model not present", allow_module_level=True)


def _photo() -> Image.Image:
    g = np.random.default_rng(3)
    arr = np.zeros((200, 150, 3), np.uint8)
    arr[40:160, 30:100] = (200, 40, 60)  # an off-centre block: the photo is not its own mirror image
    return Image.fromarray(np.clip(arr + g.integers(0, 30, arr.shape), 0, 255).astype(np.uint8))


@functools.cache
def _free_size_session() -> ort.InferenceSession:
    return ort.InferenceSession(str(MODEL))


def _reading(photo: Image.Image, height: int, width: int) -> np.ndarray:
    """The model's maps for ``photo`` at height×width, straight from onnxruntime (one free-size session)."""
    return _free_size_session().run(None, {"input": _normalise(photo, (width, height))})[0][0]


def test_the_shipped_model_takes_any_size_and_records_the_one_it_was_trained_at():
    session = ort.InferenceSession(str(MODEL))
    assert [isinstance(d, int) for d in session.get_inputs()[0].shape] == [True, True, False, False]
    meta = session.get_modelmeta().custom_metadata_map
    assert (meta["input_height"], meta["input_width"]) == ("320", "240")
    plain = new_segmentation_session("garment", tta=False)
    assert plain.input_size == (320, 240)
    assert plain.inner_session.get_inputs()[0].shape == [1, 3, 320, 240]  # the plain pass runs at a fixed size


def test_the_reading_set_follows_the_setting_and_is_named_in_the_identity(monkeypatch):
    monkeypatch.setenv("LONE_GARMENTS", "0")  # their tags, served by default, follow this one in the identity
    monkeypatch.setenv("SPLIT_REGIONS", "0")
    sessions = {}
    for setting in ("0", "1", "mirror", "pair", "three", None):
        if setting is None:
            monkeypatch.delenv("SEGMENTATION_TTA", raising=False)
        else:
            monkeypatch.setenv("SEGMENTATION_TTA", setting)
        sessions[setting] = new_segmentation_session("garment")
    on_gpu = sessions[None].inner_session.get_providers()[0] in GPU_PROVIDERS
    int8 = sessions[None].runtime == "openvino-int8-f32"  # auto's runtime on a CPU that computes bf16 (test_runtimes)
    assert [s.tta for s in sessions.values()] == ["off", "full", "mirror", "pair", "three",
                                                  "full" if on_gpu else "three-worn" if int8 else "mirror"]
    plain = sessions["0"]
    assert sessions["1"].identity == plain.identity + "+tta3"  # an index records which way its photos were cut out
    assert sessions["mirror"].identity == plain.identity + "+mirror3"
    assert sessions["pair"].identity == plain.identity + "+pair3"
    assert sessions["three"].identity == plain.identity + "+three3"
    monkeypatch.setenv("SEGMENTATION_TTA", "three-worn")
    worn = new_segmentation_session("garment")  # reads the pose model, whose hash the identity then names
    assert worn.identity == plain.identity + f"+three-worn3@{file_digest(worn.pose.path)}"
    monkeypatch.setenv("SEGMENTATION_TTA", "1")
    assert new_segmentation_session("u2netp").tta == "off"  # the person baseline is left as rembg has it


def test_tta_maps_are_the_mean_of_each_scale_and_its_mirror_at_the_trained_size(monkeypatch):
    """The readings themselves (``readings``: before any region pooling or head cut), on the runtime the expected
    maps are computed with (OpenVINO's bf16 reads within a few hundredths: ``test_runtimes``)."""
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "onnxruntime")
    plain = new_segmentation_session("garment", tta=False)
    tta = new_segmentation_session("garment", tta=True)
    photo = _photo()
    mirrored = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert TTA_SCALES[0] == 1.0 and len(TTA_SCALES) > 1
    expected = []
    for scale in TTA_SCALES:
        h, w = round(320 * scale), round(240 * scale)
        both = (_reading(photo, h, w) + _reading(mirrored, h, w)[..., ::-1]) / 2
        expected.append(np.stack([np.asarray(Image.fromarray(c).resize((240, 320), Image.Resampling.BILINEAR))
                                  for c in both]))
    expected = np.mean(expected, axis=0)
    got = tta.readings(photo)
    assert got.shape == (4, 320, 240) and np.abs(got - expected).max() < 1e-5
    assert np.allclose(got.sum(axis=0), 1, atol=1e-4)  # still a distribution over background and the groups
    # plain: one reading (the session fixes the input size, the free-size one here may pick other kernels: on an
    # AMD EPYC the two differ by ~1e-6, so the same 1e-5 as above; another reading differs by > 0.05, below)
    assert np.abs(plain.readings(photo) - _reading(photo, 320, 240)).max() < 1e-5
    # the averaged maps of the mirror image are the mirror of the photo's, unlike the model's alone
    assert np.abs(tta.readings(mirrored)[..., ::-1] - got).max() < 1e-5
    assert np.abs(plain.readings(mirrored)[..., ::-1] - plain.readings(photo)).max() > 0.05
    # the mirror reading set: the trained size and its mirror only
    mirror = new_segmentation_session("garment", tta="mirror")
    expected = (_reading(photo, 320, 240) + _reading(mirrored, 320, 240)[..., ::-1]) / 2
    assert np.abs(mirror.readings(photo) - expected).max() < 1e-5
    # the pair: the trained size and 1.2×, neither mirrored
    pair = new_segmentation_session("garment", tta="pair")
    enlarged = _reading(photo, round(320 * TTA_SCALES[1]), round(240 * TTA_SCALES[1]))
    enlarged = np.stack([np.asarray(Image.fromarray(c).resize((240, 320), Image.Resampling.BILINEAR))
                         for c in enlarged])
    expected = (_reading(photo, 320, 240) + enlarged) / 2
    assert np.abs(pair.readings(photo) - expected).max() < 1e-5
    # three: the trained size and its mirror, and 1.2× unmirrored — each of the three maps counts once
    three = new_segmentation_session("garment", tta="three")
    expected = (_reading(photo, 320, 240) + _reading(mirrored, 320, 240)[..., ::-1] + enlarged) / 3
    assert np.abs(three.readings(photo) - expected).max() < 1e-5


def test_three_worn_reads_a_worn_photo_as_three_and_a_lone_garment_as_mirror(monkeypatch):
    """``three-worn`` asks the pose model whether someone wears the clothes: the 1.2× reading is there for the outfit
    split, and a lone garment has no outfit. The lone-garment rule asks the same question of the same photo next, and
    the pose model answers it once."""
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "onnxruntime")
    monkeypatch.setenv("LONE_GARMENTS", "0")  # the pose model is loaded for the reading set alone
    photo = _photo()
    worn = new_segmentation_session("garment", tta="three-worn")
    assert worn.pose is not None and worn.tta_sizes() == [(320, 240), (384, 288)]  # both compiled at load
    expected = {name: new_segmentation_session("garment", tta=name).readings(photo) for name in ("three", "mirror")}
    for seen, name in ((True, "three"), (False, "mirror")):
        monkeypatch.setattr(session_module, "body_seen", lambda keypoints, seen=seen: seen)
        assert worn.reading_set(photo) == name
        np.testing.assert_array_equal(worn.readings(photo), expected[name])
    monkeypatch.undo()
    monkeypatch.setenv("SEGMENTATION_RUNTIME", "onnxruntime")
    served = new_segmentation_session("garment", tta="three-worn")  # with the lone-garment rule, as served
    runs = []
    real = served.pose.session
    monkeypatch.setitem(served.pose.__dict__, "session", type("Counting", (), {
        "get_inputs": lambda self: real.get_inputs(),
        "run": lambda self, *args: runs.append(1) or real.run(*args)})())
    from garment_search.images import DecodedImage
    from garment_search.segmentation import garment_mask

    garment_mask(DecodedImage(photo.copy(), None), served)
    assert len(runs) == 1


def test_a_model_exported_at_one_size_only_refuses_tta_at_load(tmp_path, monkeypatch):
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(MODEL))
    for value in (*graph.graph.input, *graph.graph.output):
        dims = value.type.tensor_type.shape.dim
        dims[2].dim_value, dims[3].dim_value = 320, 240
    del graph.metadata_props[:]
    fixed = tmp_path / "fixed.onnx"
    onnx.save(graph, str(fixed))
    monkeypatch.setenv("GARMENT_MODEL_PATH", str(fixed))
    session = new_segmentation_session("garment", tta=False)  # still served as before, at its one size
    assert session.input_size == (320, 240) and session.probabilities(_photo()).shape == (4, 320, 240)
    with pytest.raises(ValueError, match="re-export it"):
        new_segmentation_session("garment", tta=True)


@pytest.mark.parametrize("setting,providers,wanted", [
    (None, ["CPUExecutionProvider"], "mirror"),  # default: CPUs keep remove_bg's latency budget (two passes, not four)
    ("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"], "full"),  # a GPU pays milliseconds for it
    (None, ["ROCMExecutionProvider", "CPUExecutionProvider"], "full"),
    ("1", ["CPUExecutionProvider"], "full"),
    ("full", ["CPUExecutionProvider"], "full"),
    ("Mirror", ["CUDAExecutionProvider"], "mirror"),
    ("off", ["CUDAExecutionProvider", "CPUExecutionProvider"], "off"),
    ("0", ["CPUExecutionProvider"], "off"),
    ("pair", ["CPUExecutionProvider"], "pair"),  # an option, never auto's choice
    ("three", ["CPUExecutionProvider"], "three"),
])
def test_tta_default_follows_the_hardware(monkeypatch, setting, providers, wanted):
    from garment_search.segmentation.sessions import tta_wanted

    if setting is None:
        monkeypatch.delenv("SEGMENTATION_TTA", raising=False)
    else:
        monkeypatch.setenv("SEGMENTATION_TTA", setting)
    assert tta_wanted(providers) == wanted


@pytest.mark.parametrize("setting,runtime,wanted", [
    (None, "openvino-int8", "three-worn"),  # the int8 body's passes leave room for the 1.2× reading on worn photos
    ("auto", "openvino", "mirror"),  # the bf16 body: three readings cost 1.3–1.4× the request time
    (None, "onnxruntime", "mirror"),
    ("mirror", "openvino-int8", "mirror"),  # a setting wins
])
def test_the_cpu_reading_set_follows_the_runtime(monkeypatch, setting, runtime, wanted):
    from garment_search.segmentation.sessions import tta_wanted

    if setting is None:
        monkeypatch.delenv("SEGMENTATION_TTA", raising=False)
    else:
        monkeypatch.setenv("SEGMENTATION_TTA", setting)
    assert tta_wanted(["CPUExecutionProvider"], runtime) == wanted


def test_a_misspelt_tta_setting_is_refused(monkeypatch):
    from garment_search.segmentation.sessions import tta_wanted

    monkeypatch.setenv("SEGMENTATION_TTA", "sometimes")
    with pytest.raises(ValueError, match="auto, 1, mirror, full, pair, three, three-worn or 0"):
        tta_wanted(["CPUExecutionProvider"])


@pytest.mark.parametrize("plain,enlarged,expected", [
    (0.1, 0.3, "averaged"),  # the 1.2× reading agrees: garment
    (0.1, 0.95, "plain"),  # it reads background: the average (0.475 garment) would keep nothing
    (0.1, 0.8, "plain"),  # the average (0.55 garment) is garment pixel by pixel, but too unsure for the region gate
    (0.4, 0.95, "averaged"),  # the plain reading's own garment (0.6) is too unsure to keep: nothing to protect
])
def test_averaged_readings_that_erase_the_plain_reading_s_garment_give_way_to_it(monkeypatch, plain, enlarged,
                                                                                 expected):
    tta = new_segmentation_session("garment", tta=True)

    def uniform(background: float, size: tuple[int, int]) -> np.ndarray:
        maps = np.zeros((4, *size), np.float32)
        maps[0], maps[1] = background, 1 - background
        return maps

    def fake_read(rgb, size, mirrored):
        maps = uniform(plain if size == tta.input_size else enlarged, size)
        return maps, maps
    monkeypatch.setattr(tta, "_read", fake_read)
    got = tta.probabilities(_photo())
    background = plain if expected == "plain" else (plain + enlarged) / 2
    assert np.allclose(got, uniform(background, (320, 240)), atol=1e-6)


@pytest.mark.parametrize("prefix,suffix", [("light-blue-point-collar", "-12.jpg"), ("onion-skin", "-5.jpg")])
def test_a_close_up_keeps_its_garment_with_every_reading(catalogue, prefix, suffix):
    """The catalogue's knit close-up reads as background mirrored and enlarged: test-time augmentation (the index,
    remove_bg on a GPU) erased its whole garment until the guard, and the mirror reading alone did (0.77 → 0.52
    garment probability, below the region gate) until the guard compared kept garment."""
    from garment_search.images import load_image_file
    from garment_search.segmentation import mask_from_probabilities

    (photo,) = [p for name, photos in catalogue.items() if name.startswith(prefix) for p in photos
                if p.name.endswith(suffix)]
    image = load_image_file(photo)
    for tta in READING_SETS:
        session = new_segmentation_session("garment", tta=tta)
        mask, _ = mask_from_probabilities(image, session.probabilities(image.rgb), session.groups, "product")
        assert mask.mean() > 0.2, (photo.name, tta)
