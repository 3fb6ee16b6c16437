"""The training code's torch u2netp reproduces the ONNX files it starts from: rembg's u2netp (the first run)
and our exported garment model (a fine-tune of the shipped weights)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from garment_search.config import MODEL_CACHE_DIR, MODELS_DIR  # noqa: E402
from training.segmentation.u2netp import U2NetP, load_onnx_weights  # noqa: E402


@pytest.mark.parametrize("path,classes,output", [
    (MODELS_DIR / "garment_u2netp.onnx", 4, lambda outs: torch.softmax(outs[0], dim=1)),
    (MODEL_CACHE_DIR / "u2netp.onnx", 1, lambda outs: torch.sigmoid(outs[0])),
])
def test_torch_model_loaded_from_onnx_gives_the_same_maps(path, classes, output):
    if not path.exists():
        pytest.skip(f"{path} not present (scripts/setup places it)")
    session = ort.InferenceSession(str(path))
    inp = session.get_inputs()[0]
    height, width = (d if isinstance(d, int) else 320 for d in inp.shape[2:])
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    model = U2NetP(out_ch=classes).eval()
    load_onnx_weights(model, str(path))
    with torch.no_grad():
        ours = output(model(x)).numpy()
    theirs = session.run(None, {inp.name: x.numpy()})[0]
    assert np.abs(ours - theirs).max() < 1e-4


def test_a_plain_export_takes_any_size_and_records_the_one_it_is_read_at(tmp_path):
    from garment_search.onnx_metadata import onnx_metadata
    from garment_search.segmentation.sessions import TTA_SCALES
    from training.segmentation.export import Probabilities, export

    model = Probabilities(U2NetP(out_ch=4)).eval()
    path = tmp_path / "garment.onnx"
    export(model, path, 64, 48)  # asserts ONNX == torch at every test-time augmentation size
    assert onnx_metadata(path) == {"input_height": "64", "input_width": "48"}
    session = ort.InferenceSession(str(path))
    assert [isinstance(d, int) for d in session.get_inputs()[0].shape] == [True, True, False, False]
    for height, width in [(round(64 * s), round(48 * s)) for s in TTA_SCALES] + [(50, 37)]:
        out = session.run(None, {"input": np.random.rand(1, 3, height, width).astype(np.float32)})[0]
        assert out.shape == (1, 4, height, width) and np.allclose(out.sum(1), 1, atol=1e-5)
