"""The group head re-decides garment groups only: garment-versus-background stays the body's, probabilities stay a
distribution, and the exported ONNX (the file GarmentSession serves) computes what the torch model computes."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from training.segmentation.group_head import GroupedGarmentModel, GroupHead  # noqa: E402
from training.segmentation.u2netp import U2NetP, load_onnx_weights  # noqa: E402


def _model() -> GroupedGarmentModel:
    torch.manual_seed(0)
    return GroupedGarmentModel(U2NetP(out_ch=4), GroupHead()).eval()


def test_background_is_the_body_s_and_groups_share_the_rest():
    model = _model()
    x = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        probs = model(x)
        body_background = torch.softmax(model.body(x)[0], 1)[:, 0]
    assert probs.shape == (1, 4, 64, 48)
    assert torch.allclose(probs[:, 0], body_background, atol=1e-6)
    assert torch.allclose(probs.sum(1), torch.ones(1, 64, 48), atol=1e-5)


def test_export_matches_torch_and_loads_back(tmp_path):
    from training.segmentation.export import export

    model = _model()
    path = tmp_path / "grouped.onnx"
    export(model, path, 64, 48, free_size=False)  # as export's main does for a group head; asserts ONNX == torch
    body = U2NetP(out_ch=4)
    load_onnx_weights(body, str(path), body_only=True)  # the body of a grouped file fine-tunes like any other
    for ours, theirs in zip(body.state_dict().values(), model.body.state_dict().values()):
        assert torch.equal(ours, theirs)
    again = GroupedGarmentModel(U2NetP(out_ch=4), GroupHead()).eval()
    load_onnx_weights(again, str(path))
    x = torch.rand(1, 3, 64, 48)
    with torch.no_grad():
        assert np.abs(again(x).numpy() - ort.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]).max() < 1e-4
    assert ort.InferenceSession(str(path)).get_inputs()[0].shape == [1, 3, 64, 48]  # its one size, no metadata
