"""A pretrained image trunk for the embedding members: nsfwjs's Keras MobileNetV2 mapped onto timm's layout, fed our
CLIP-normalised input, and the early layers kept as given while the rest trains."""

import base64
import json
import shutil
import tarfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

from training.pretrained_backbone import INPUTS, MODEL_DIR, STAGE_BLOCKS, read_keras_weights, timm_state_dict  # noqa: E402
from training.embedding.train import build_model  # noqa: E402
from training.pretrained_backbone import freeze_early_layers  # noqa: E402


def _keras_names_and_shapes() -> dict[str, tuple[int, ...]]:
    """Keras MobileNetV2 (width 1.0) weight names and shapes, as the nsfwjs manifest lists them."""
    reference = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=0).state_dict()
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(name, key):
        o, i, h, w = reference[key].shape
        shapes[name + "/kernel"] = (h, w, i, o)

    def depthwise(name, key):
        c, _, h, w = reference[key].shape
        shapes[name + "/depthwise_kernel"] = (h, w, c, 1)

    def norm(name, key):
        for part in ("gamma", "beta", "moving_mean", "moving_variance"):
            shapes[f"{name}/{part}"] = tuple(reference[key + ".weight"].shape)

    conv("Conv1", "conv_stem.weight"), norm("bn_Conv1", "bn1")
    depthwise("expanded_conv_depthwise", "blocks.0.0.conv_dw.weight")
    norm("expanded_conv_depthwise_BN", "blocks.0.0.bn1")
    conv("expanded_conv_project", "blocks.0.0.conv_pw.weight"), norm("expanded_conv_project_BN", "blocks.0.0.bn2")
    number = 1
    for stage, blocks in enumerate(STAGE_BLOCKS, start=1):
        for block in range(blocks):
            key, name = f"blocks.{stage}.{block}", f"block_{number}"
            conv(name + "_expand", key + ".conv_pw.weight"), norm(name + "_expand_BN", key + ".bn1")
            depthwise(name + "_depthwise", key + ".conv_dw.weight"), norm(name + "_depthwise_BN", key + ".bn2")
            conv(name + "_project", key + ".conv_pwl.weight"), norm(name + "_project_BN", key + ".bn3")
            number += 1
    conv("Conv_1", "conv_head.weight"), norm("Conv_1_bn", "bn2")
    return shapes


def _random_keras_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in _keras_names_and_shapes().items():
        values = rng.normal(0, 0.1, shape).astype(np.float32)
        out[name] = np.abs(values) + 0.5 if name.endswith(("moving_variance", "gamma")) else values
    return out


def test_every_keras_weight_lands_in_timm_mobilenetv2_with_its_layout():
    keras = _random_keras_weights()
    state = timm_state_dict(keras, *INPUTS["clip"])
    model = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=0)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    assert sum(v.size for v in keras.values()) == sum(v.numel() for v in state.values())
    # a depthwise kernel: Keras H×W×C×1, torch C×1×H×W, same taps per channel
    k = keras["block_3_depthwise/depthwise_kernel"]
    assert torch.equal(state["blocks.2.0.conv_dw.weight"][5, 0], torch.from_numpy(k[:, :, 5, 0]))
    # a pointwise kernel: Keras 1×1×I×O, torch O×I×1×1
    k = keras["block_16_project/kernel"]
    assert torch.equal(state["blocks.6.0.conv_pwl.weight"][:, :, 0, 0], torch.from_numpy(k[0, 0].T))


@pytest.mark.parametrize("normalisation", sorted(INPUTS))
def test_the_stem_reads_normalised_input_as_nsfwjs_read_pixels_over_255(normalisation):
    keras = _random_keras_weights(1)
    mean, std = INPUTS[normalisation]
    state = timm_state_dict(keras, mean, std)
    folded = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, 2, 1, bias=False), torch.nn.BatchNorm2d(32, eps=1e-5))
    folded[0].weight.data, folded[1].weight.data = state["conv_stem.weight"], state["bn1.weight"]
    folded[1].bias.data, folded[1].running_mean.data = state["bn1.bias"], state["bn1.running_mean"]
    folded[1].running_var.data = state["bn1.running_var"]
    original = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, 2, 1, bias=False), torch.nn.BatchNorm2d(32, eps=1e-3))
    original[0].weight.data = torch.from_numpy(keras["Conv1/kernel"].transpose(3, 2, 0, 1).copy())
    original[1].weight.data = torch.from_numpy(keras["bn_Conv1/gamma"])
    original[1].bias.data = torch.from_numpy(keras["bn_Conv1/beta"])
    original[1].running_mean.data = torch.from_numpy(keras["bn_Conv1/moving_mean"])
    original[1].running_var.data = torch.from_numpy(keras["bn_Conv1/moving_variance"])
    folded.eval(), original.eval()
    pixels = torch.rand(2, 3, 32, 32)
    normalised = (pixels - torch.from_numpy(mean).view(1, 3, 1, 1)) / torch.from_numpy(std).view(1, 3, 1, 1)
    with torch.no_grad():
        a, b = folded(normalised), original(pixels)
    assert torch.allclose(a[:, :, 1:, 1:], b[:, :, 1:, 1:], atol=1e-4)  # the top/left border sees other padding


def _fake_npm_tarball(tmp_path, keras: dict[str, np.ndarray]):
    """An nsfwjs-shaped tarball: the manifest and a base64 shard inside CommonJS modules, weights uint8-quantised."""
    specs, blob = [], b""
    for name, values in keras.items():
        low, high = float(values.min()), float(values.max())
        scale = (high - low) / 255 or 1.0
        blob += np.round((values - low) / scale).astype(np.uint8).tobytes()
        specs.append({"name": name, "shape": list(values.shape), "dtype": "float32",
                      "quantization": {"min": low, "scale": scale, "dtype": "uint8"}})
    root = tmp_path / "pkg" / MODEL_DIR
    root.mkdir(parents=True)
    manifest = {"modelTopology": {}, "weightsManifest": [{"paths": ["group1-shard1of1"], "weights": specs}]}
    (root / "model.min.js").write_text("module.exports = " + json.dumps(manifest) + ";")
    (root / "group1-shard1of1.min.js").write_text(f'module.exports = "{base64.b64encode(blob).decode()}";')
    tarball = tmp_path / "nsfwjs.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(tmp_path / "pkg" / "package", arcname="package")
    return tarball


@pytest.mark.skipif(shutil.which("node") is None, reason="reading the npm modules needs node")
def test_weights_are_read_from_the_npm_modules_and_dequantised(tmp_path):
    keras = {"Conv1/kernel": np.linspace(-1, 1, 3 * 3 * 3 * 4, dtype=np.float32).reshape(3, 3, 3, 4),
             "bn_Conv1/gamma": np.array([0.5, 1.0, 1.5, 2.0], np.float32)}
    read = read_keras_weights(_fake_npm_tarball(tmp_path, keras))
    assert set(read) == set(keras)
    for name, values in keras.items():
        assert read[name].shape == values.shape
        assert np.abs(read[name] - values).max() <= (values.max() - values.min()) / 255 / 2 + 1e-6


def test_a_pretrained_trunk_loads_into_the_member_and_its_early_layers_stay_as_given(tmp_path):
    trunk = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=0)
    torch.save(trunk.state_dict(), tmp_path / "trunk.pt")
    model = build_model(None, text_weights=False, name="garment-minilm-mobilenetv2", backbone=tmp_path / "trunk.pt")
    assert torch.equal(model.visual.trunk.blocks[4][0].conv_pw.weight, trunk.blocks[4][0].conv_pw.weight)
    frozen = freeze_early_layers(model.visual.trunk, 3)
    assert frozen[0] is model.visual.trunk.conv_stem and frozen[-1] is model.visual.trunk.blocks[2]
    assert not any(p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for p in model.visual.trunk.blocks[3].parameters())
    assert freeze_early_layers(model.visual.trunk, 0) == []
    resnet = build_model(None, text_weights=False)
    with pytest.raises(SystemExit, match="MobileNet"):
        freeze_early_layers(resnet.visual.trunk, 2)


def test_a_refolded_stem_reads_another_normalisation_as_the_trained_one_read_its_own():
    """A trunk trained on CLIP-normalised crops (an embedding member) can start a network fed ImageNet-normalised
    photos (the garment model's group networks): the refolded stem sees the same pixels the same way."""
    from training.pretrained_backbone import refold_stem

    trained = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=0).eval()
    with torch.no_grad():
        for module in trained.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5), module.running_var.uniform_(0.5, 2.0)
    refolded = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=0).eval()
    refolded.load_state_dict(refold_stem(trained.state_dict(), INPUTS["clip"], INPUTS["imagenet"]))
    pixels = torch.rand(2, 3, 64, 64)

    def normalised(name):
        mean, std = (torch.from_numpy(v).view(1, 3, 1, 1) for v in INPUTS[name])
        return (pixels - mean) / std

    with torch.no_grad():
        stem_a = trained.bn1(trained.conv_stem(normalised("clip")))
        stem_b = refolded.bn1(refolded.conv_stem(normalised("imagenet")))
        pooled_a, pooled_b = trained(normalised("clip")), refolded(normalised("imagenet"))
    assert torch.allclose(stem_a[:, :, 1:-1, 1:-1], stem_b[:, :, 1:-1, 1:-1], atol=1e-4)  # borders see zero padding
    assert torch.nn.functional.cosine_similarity(pooled_a, pooled_b).min() > 0.999


def test_the_served_ensembles_mobilenet_members_give_trunks_and_its_resnets_do_not():
    from garment_search.embedding import EMBEDDED_WEIGHTS
    from training.pretrained_backbone import ensemble_member_trunk

    trunk = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=0)
    state = ensemble_member_trunk(EMBEDDED_WEIGHTS, 2)
    assert all(v.dtype != torch.int8 for v in state.values())  # the int8 storage is undone
    missing, unexpected = trunk.load_state_dict(state, strict=False)
    assert not [k for k in missing if not k.endswith("num_batches_tracked")] and not unexpected
    with pytest.raises(SystemExit, match="no MobileNet-style trunk"):
        ensemble_member_trunk(EMBEDDED_WEIGHTS, 0)
