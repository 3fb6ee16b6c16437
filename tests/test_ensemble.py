"""The served embedding is an ensemble of four trained members of two architectures (ResNet-18 and MobileNetV2
image towers) stored with int8 weight matrices: its scores must be the mean of its members' cosine similarities,
and its storage must lose (almost) nothing."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")

from garment_search.embedding import (EMBEDDED_MEMBER, EMBEDDED_MODEL, EMBEDDED_WEIGHTS, Embedder,  # noqa: E402
                                      ModelChoice, ensemble_members, ensemble_spec)
from garment_search.embedding.ensemble import member_state_dict, merge_state_dicts  # noqa: E402
from garment_search.embedding.int8_weights import SCALE_SUFFIX, dequantise, quantise  # noqa: E402


def test_int8_storage_round_trips_within_half_a_step_and_leaves_vectors_alone():
    g = torch.Generator().manual_seed(0)
    state = {"conv.weight": torch.randn(8, 3, 3, 3, generator=g), "fc.weight": torch.randn(4, 5, generator=g) * 10,
             "bn.running_var": torch.rand(8, generator=g), "bn.num_batches_tracked": torch.tensor(7)}
    packed = quantise(state)
    assert packed["conv.weight"].dtype == torch.int8 and (packed["conv.weight"].abs() <= 127).all()
    assert set(packed) == set(state) | {"conv.weight" + SCALE_SUFFIX, "fc.weight" + SCALE_SUFFIX}
    back = dequantise(packed)
    assert set(back) == set(state)
    for key in ("conv.weight", "fc.weight"):
        step = packed[key + SCALE_SUFFIX].view((-1,) + (1,) * (state[key].ndim - 1))
        assert ((back[key] - state[key]).abs() <= step / 2 + 1e-6).all()
    assert torch.equal(back["bn.running_var"], state["bn.running_var"])
    assert dequantise(state) == state  # a float checkpoint loads unchanged


def test_depthwise_kernels_stay_float():
    depthwise = torch.randn(16, 1, 3, 3, generator=torch.Generator().manual_seed(0))
    packed = quantise({"dw.weight": depthwise, "pw.weight": torch.randn(16, 16, 1, 1)})
    assert torch.equal(packed["dw.weight"], depthwise) and "dw.weight" + SCALE_SUFFIX not in packed
    assert packed["pw.weight"].dtype == torch.int8


def test_member_state_dicts_come_back_out_of_a_merge():
    members = [{"visual.trunk.w": torch.full((2, 2), float(i)), "text.proj.weight": torch.full((3, 3), float(i)),
                "logit_scale": torch.tensor(float(i))} for i in range(3)]
    merged = merge_state_dicts(members)
    assert "visual.members.2.trunk.w" in merged and "text.proj.members.1.weight" in merged
    assert merged["logit_scale"] == 0  # the first member's temperature (it plays no part in ranking)
    for i in range(3):
        out = member_state_dict(merged, i)
        assert set(out) == set(members[i])
        assert all(torch.equal(out[k], members[i][k]) for k in ("visual.trunk.w", "text.proj.weight"))


MOBILE_MEMBER = "garment-minilm-mobilenetv2"


def test_the_shipped_ensemble_fits_the_weights_budget():
    assert ensemble_members(EMBEDDED_MODEL) == [EMBEDDED_MEMBER] * 2 + [MOBILE_MEMBER] * 2  # a list of configs
    assert ensemble_spec("garment-minilm-resnet18x3") == {"member": EMBEDDED_MEMBER, "members": 3}  # K copies
    assert ensemble_members("garment-minilm-resnet18x3") == [EMBEDDED_MEMBER] * 3
    assert ensemble_members(EMBEDDED_MEMBER) is None
    assert EMBEDDED_WEIGHTS.stat().st_size <= 40_000_000  # the embedding issue's limit for committed weights


def test_ensemble_scores_are_the_mean_of_its_members_cosines(tmp_path):
    """Each member taken out of the shipped checkpoint and served alone (built from its own config: ResNet-18 and
    MobileNetV2 towers side by side) gives cosines whose mean is the ensemble's score; the vectors are unit length
    like every embedder's."""
    from training.embedding.ensemble import extract

    g = np.random.default_rng(0)
    from PIL import Image

    images = [Image.fromarray(g.integers(0, 255, (90, 60, 3), dtype=np.uint8)) for _ in range(4)]
    query = "a navy blue tunic"
    ensemble = Embedder(ModelChoice(EMBEDDED_MODEL, str(EMBEDDED_WEIGHTS))).load()
    vectors, text = ensemble.encode_images(images), ensemble.encode_text(query)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5) and abs(np.linalg.norm(text) - 1) < 1e-5
    assert vectors.shape[1] == len(ensemble_members(EMBEDDED_MODEL)) * 384
    cosines = []
    for i, config in enumerate(ensemble_members(EMBEDDED_MODEL)):
        extract(EMBEDDED_WEIGHTS, i, tmp_path / f"m{i}.pt")
        member = Embedder(ModelChoice(config, str(tmp_path / f"m{i}.pt"))).load()
        cosines.append(member.encode_images(images) @ member.encode_text(query))
    assert np.abs(vectors @ text - np.mean(cosines, axis=0)).max() < 2e-3  # members written back as float16


def test_candidates_named_on_a_command_line_say_which_model_they_are():
    assert ModelChoice.from_arg("a.pt") == ModelChoice(EMBEDDED_MODEL, "a.pt")
    assert ModelChoice.from_arg(f"{EMBEDDED_MEMBER}=m.pt") == ModelChoice(EMBEDDED_MEMBER, "m.pt")
    assert ModelChoice.from_arg("runs/lr=3e-4/m.pt") == ModelChoice(EMBEDDED_MODEL, "runs/lr=3e-4/m.pt")  # a path
    assert ModelChoice.from_arg("m.pt", default_name=EMBEDDED_MEMBER) == ModelChoice(EMBEDDED_MEMBER, "m.pt")


def test_a_member_written_with_int8_matrices_serves_as_its_float16_original(tmp_path):
    """Lease runs come back as int8 members (``train.py --int8``: half the size, twice the runs per call); they
    must load as members and embed as the float16 checkpoint does."""
    from open_clip.factory import load_state_dict

    from training.embedding.ensemble import extract
    from training.embedding.train import save_weights

    extract(EMBEDDED_WEIGHTS, 0, tmp_path / "fp16.pt")
    save_weights(load_state_dict(str(tmp_path / "fp16.pt")), tmp_path / "int8.pt", int8=True)
    assert (tmp_path / "int8.pt").stat().st_size < 0.6 * (tmp_path / "fp16.pt").stat().st_size
    from PIL import Image

    images = [Image.fromarray(np.random.default_rng(1).integers(0, 255, (80, 60, 3), dtype=np.uint8))]
    fp16, int8 = (Embedder(ModelChoice(EMBEDDED_MEMBER, str(tmp_path / f"{name}.pt"))).load()
                  for name in ("fp16", "int8"))
    assert float(fp16.encode_images(images)[0] @ int8.encode_images(images)[0]) > 0.995
    assert float(fp16.encode_text("a red skirt") @ int8.encode_text("a red skirt")) > 0.995


def test_extracted_members_assemble_back_into_the_served_ensemble(tmp_path):
    """``training.embedding.ensemble`` round trip on the served mixed ensemble: its members taken out (each as a
    checkpoint of its own config) and assembled again embed as the served file does; a wrong member count is
    refused."""
    from PIL import Image

    from training.embedding.ensemble import assemble, extract

    paths = []
    for i in range(len(ensemble_members(EMBEDDED_MODEL))):
        extract(EMBEDDED_WEIGHTS, i, tmp_path / f"m{i}.pt")
        paths.append(tmp_path / f"m{i}.pt")
    assemble(paths, tmp_path / "again.pt", EMBEDDED_MODEL)
    with pytest.raises(SystemExit):
        assemble(paths[:3], tmp_path / "short.pt", EMBEDDED_MODEL)

    images = [Image.fromarray(np.random.default_rng(2).integers(0, 255, (90, 60, 3), dtype=np.uint8))
              for _ in range(3)]
    served, again = (Embedder(ModelChoice(EMBEDDED_MODEL, str(path))).load()
                     for path in (EMBEDDED_WEIGHTS, tmp_path / "again.pt"))
    assert np.min(np.sum(served.encode_images(images) * again.encode_images(images), axis=1)) > 0.999
    assert float(served.encode_text("a striped shirt") @ again.encode_text("a striped shirt")) > 0.999


def test_members_of_several_input_sizes_each_read_the_batch_at_their_own_size():
    """A mixed ensemble whose members read different input sizes is fed at the largest; a smaller member gets the
    batch resized (antialiased) to its own side, so it answers as it would alone at that side."""
    from torch import nn

    from garment_search.embedding import member_input_sizes, model_input_size
    from garment_search.embedding.ensemble import MemberEnsemble, fit_side

    assert member_input_sizes(EMBEDDED_MODEL) is None and model_input_size(EMBEDDED_MODEL) == 128
    assert member_input_sizes("garment-minilm-resnet18x2-mobilenetv2-176x2") == [128, 128, 176, 176]
    assert model_input_size("garment-minilm-resnet18x2-mobilenetv2-176x2") == 176

    class Side(nn.Module):  # answers with the side it was given, so each member's input is visible
        def forward(self, x):
            return torch.full((x.shape[0], 2), float(x.shape[-1]))

    x = torch.rand(3, 3, 176, 176)
    seen = []
    members = [Side(), Side()]
    for member in members:
        member.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0].shape[-1]))
    out = MemberEnsemble(members, [128, 176])(x)
    assert seen == [128, 176] and out.shape == (3, 4)
    assert torch.allclose(out * np.sqrt(2), torch.full((3, 4), 0.5 ** 0.5), atol=1e-4)  # each member normalised
    assert fit_side(x, 176) is x and fit_side(x, None) is x
    flat = torch.ones(1, 3, 176, 176)
    assert torch.allclose(fit_side(flat, 128), torch.ones(1, 3, 128, 128))  # a flat image stays flat


def test_a_mixed_size_ensemble_serves_its_small_members_as_they_serve_alone(tmp_path):
    """The served members assembled under a config whose MobileNetV2 members read 176 pixels: the ResNet-18 members
    (128 pixels) see the photo resized once more, and still embed it as the served ensemble does."""
    from PIL import Image

    from training.embedding.ensemble import assemble, extract

    paths = []
    for i in range(4):
        extract(EMBEDDED_WEIGHTS, i, tmp_path / f"m{i}.pt")
        paths.append(tmp_path / f"m{i}.pt")
    name = "garment-minilm-resnet18x2-mobilenetv2-176x2"
    assemble(paths, tmp_path / "mixed.pt", name)
    g = np.random.default_rng(3)
    images = [Image.fromarray(g.integers(0, 255, (120, 90, 3), dtype=np.uint8)).resize((480, 360)) for _ in range(3)]
    served, mixed = (Embedder(ModelChoice(model, str(path))).load()
                     for model, path in ((EMBEDDED_MODEL, EMBEDDED_WEIGHTS), (name, tmp_path / "mixed.pt")))
    a, b = served.encode_images(images), mixed.encode_images(images)
    assert np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-5)
    for member in range(2):  # the ResNet-18 members
        part = slice(member * 384, (member + 1) * 384)
        x, y = a[:, part], b[:, part]
        cos = np.sum(x * y, axis=1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
        assert cos.min() > 0.98


def test_a_config_may_extend_another_and_give_only_what_differs():
    """``"extends"``: a 176-pixel member is its 128-pixel base with one number changed, vocabulary and text tower
    included; nested dicts merge key by key, other values are replaced."""
    from garment_search.embedding import merged, our_config

    small, large = our_config("garment-minilm-mobilenetv2"), our_config("garment-minilm-mobilenetv2-176")
    assert "extends" not in large and large["vision_cfg"]["image_size"] == 176
    assert large == merged(small, {"vision_cfg": {"image_size": 176}})
    assert merged({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": 3}, "d": [2]}) == {"a": {"b": 3, "c": 2}, "d": [2]}
