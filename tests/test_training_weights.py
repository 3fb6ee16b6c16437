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
