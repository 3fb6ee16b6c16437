"""The group network re-splits the garment probability only: garment-versus-background stays the body's, the
output stays a distribution at any input size (test-time augmentation reads 1.2×), the exported ONNX computes
what the torch model computes, and training only ever learns from labelled garment pixels; the optional photo head
teaches, and is never served; the optional garment head has a say in garment-versus-background only as far as the
export's garment weight gives it one, and learns head coverings as background, weighed."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("onnxruntime")

from training.segmentation.data import HARD_NEGATIVE  # noqa: E402
from training.segmentation.group_net import (GroupNet, GroupNetGarmentModel, garment_loss, group_loss,  # noqa: E402
                                             group_targets, one_piece_photos, training_loss)
from training.segmentation.u2netp import U2NetP, load_onnx_weights  # noqa: E402


def _model() -> GroupNetGarmentModel:
    torch.manual_seed(0)
    return GroupNetGarmentModel(U2NetP(out_ch=4), GroupNet()).eval()


@pytest.mark.parametrize("size", [(64, 48), (77, 58)])  # a size that is no multiple of the trunk's stride
@pytest.mark.parametrize("net_weight", [1.0, 0.5])
def test_background_is_the_body_s_and_groups_share_the_rest(size, net_weight):
    model = _model()
    model.net_weight = net_weight
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        probs = model(x)
        body_background = torch.softmax(model.body(x)[0], 1)[:, 0]
    assert probs.shape == (1, 4, *size)
    assert torch.allclose(probs[:, 0], body_background, atol=1e-6)
    assert torch.allclose(probs.sum(1), torch.ones(1, *size), atol=1e-5)


def test_export_matches_torch_at_every_size_and_keeps_the_body(tmp_path):
    from training.segmentation.export import export

    model = _model()
    path = tmp_path / "groupnet.onnx"
    export(model, path, 64, 48, free_size=True)  # asserts ONNX == torch at the trained and the TTA sizes
    body = U2NetP(out_ch=4)
    load_onnx_weights(body, str(path), body_only=True)
    for ours, theirs in zip(body.state_dict().values(), model.body.state_dict().values()):
        assert torch.equal(ours, theirs)


def test_a_blend_splits_between_the_body_s_groups_and_the_network_s():
    model = _model()
    x = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        net_only = model(x)
        model.net_weight = 0.0
        body_only = model(x)
        model.net_weight = 0.5
        blend = model(x)
        body = torch.softmax(model.body(x)[0], 1)
    assert torch.allclose(body_only, body, atol=1e-5)  # weight 0: the body's own answer
    assert torch.allclose(blend, (net_only + body_only) / 2, atol=1e-5)


def test_several_networks_average_their_splits():
    torch.manual_seed(3)
    body, first, second = U2NetP(out_ch=4), GroupNet(), GroupNet()
    both = GroupNetGarmentModel(body, [first, second]).eval()
    x = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = (GroupNetGarmentModel(body, first).eval()(x) + GroupNetGarmentModel(body, second).eval()(x)) / 2
        assert torch.allclose(both(x), expected, atol=1e-5)


def test_only_labelled_garment_pixels_teach_the_split():
    target = torch.tensor([[0, 1, 2, 3]])
    assert group_targets(target).tolist() == [[-1, 0, 1, 2]]
    logits = torch.zeros(1, 3, 1, 4, requires_grad=True)
    loss = group_loss(logits, target[None], torch.ones(3))
    loss.backward()
    assert logits.grad[0, :, 0, 0].abs().sum() == 0  # the background pixel has no say
    assert logits.grad[0, :, 0, 1:].abs().sum() > 0
    assert loss.item() == pytest.approx(torch.log(torch.tensor(3.0)).item(), abs=1e-5)  # uniform over 3 groups


def test_a_photo_is_mostly_one_piece_by_its_labelled_garment_pixels():
    dress = torch.tensor([[0, 3, 3, 1]])            # two thirds of the garment pixels one-piece
    top = torch.tensor([[0, 1, 1, 1]])
    nothing = torch.zeros(1, 4, dtype=torch.long)    # no garment at all
    top_and_skirt = torch.tensor([[1, 1, 2, 2]])
    assert one_piece_photos(torch.stack([dress, top, nothing, top_and_skirt])).tolist() == [1.0, 0.0, 0.0, 0.0]
    strap = torch.tensor([[[1] * 19 + [3]]])          # 5%: a top with a romper's strap beside it
    under_a_cardigan = torch.tensor([[[1] * 17 + [3] * 3]])  # 15%: counts
    assert one_piece_photos(torch.cat([strap, under_a_cardigan])).tolist() == [0.0, 1.0]


def test_the_photo_head_adds_to_the_pixel_loss_and_is_left_out_of_the_served_weights():
    torch.manual_seed(5)
    net = GroupNet(photo_head=True).eval()
    x = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(6))
    target = torch.zeros(2, 64, 48, dtype=torch.long)
    target[0, 10:50, 10:40] = 3  # a dress
    target[1, 10:30, 10:40], target[1, 30:50, 10:40] = 1, 2  # a top over a skirt
    with torch.no_grad():
        pixels = group_loss(net(x), target, torch.ones(3))
        assert training_loss(net, x, target, torch.ones(3), 0.0) == pixels
        assert training_loss(net, x, target, torch.ones(3), 0.5) > pixels
    served = net.served_state()
    assert served and not any(k.startswith("photo.") for k in served)
    plain = GroupNet()
    plain.load_state_dict(served)  # strict: the exported network is the plain one
    with torch.no_grad():
        assert torch.equal(plain.eval()(x), net(x))


def _garment_head_model(garment_weight: float) -> GroupNetGarmentModel:
    torch.manual_seed(7)
    nets = [GroupNet(garment_head=True), GroupNet(garment_head=True)]
    return GroupNetGarmentModel(U2NetP(out_ch=4), nets, 0.5, garment_weight).eval()


@pytest.mark.parametrize("garment_weight", [0.0, 0.25, 0.5, 1.0])
def test_the_garment_heads_blend_into_the_background_by_the_garment_weight(garment_weight):
    model = _garment_head_model(garment_weight)
    x = torch.rand(1, 3, 77, 58, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        probs = model(x)
        body = torch.softmax(model.body(x)[0], 1)[:, 0]
        heads = torch.stack([torch.sigmoid(-torch.nn.functional.interpolate(
            net(x), size=x.shape[2:], mode="bilinear", align_corners=False)[:, 3]) for net in model.groups]).mean(0)
    assert torch.allclose(probs[:, 0], (1 - garment_weight) * body + garment_weight * heads, atol=1e-5)
    assert torch.allclose(probs.sum(1), torch.ones(1, 77, 58), atol=1e-5)
    model.garment_weight = 0.0  # the garment head leaves the split alone: groups as without a garment weight
    with torch.no_grad():
        split = model(x)[:, 1:] / (1 - model(x)[:, :1])
    assert torch.allclose(probs[:, 1:] / (1 - probs[:, :1]), split, atol=1e-4)


def test_a_garment_weight_needs_garment_heads():
    with pytest.raises(ValueError, match="garment head"):
        GroupNetGarmentModel(U2NetP(out_ch=4), [GroupNet()], 0.5, 0.5)


def test_a_network_with_a_garment_head_reloads_and_exports(tmp_path):
    from training.segmentation.export import export

    model = _garment_head_model(0.5)
    again = GroupNet.from_state(model.groups[0].state_dict())
    assert again.garment_head and not GroupNet.from_state(GroupNet().state_dict()).garment_head
    export(model, tmp_path / "garment-heads.onnx", 64, 48, free_size=True)  # asserts ONNX == torch at every size


def test_head_coverings_teach_the_garment_head_as_weighed_background_and_never_the_split():
    target = torch.tensor([[[0, 1, 2, HARD_NEGATIVE]]])
    assert group_targets(target[0]).tolist() == [[-1, 0, 1, -1]]
    logits = torch.zeros(1, 4, 1, 4, requires_grad=True)
    garment_loss(logits, target, 4.0).backward()
    grad = logits.grad[0, 3, 0]
    assert logits.grad[0, :3].abs().sum() == 0  # the garment loss never moves the group logits
    assert grad[1] < 0 and grad[2] < 0 and grad[0] > 0 and grad[3] > 0  # garment up, background and scarf down
    assert grad[3] == pytest.approx(4 * grad[0].item())  # the scarf weighs four background pixels
    with torch.no_grad():
        net = GroupNet(garment_head=True).eval()
        x = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(9))
        pixels = torch.zeros(1, 64, 48, dtype=torch.long)
        pixels[0, 10:50, 10:40] = 1
        plain = training_loss(net, x, pixels, torch.ones(3), 0.0)
        assert training_loss(net, x, pixels, torch.ones(3), 0.0, 1.0, 4.0) > plain
