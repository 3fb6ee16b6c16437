"""The sleeve channel: queries read for the sleeve length they name, views read by the shipped classifier, and
the CCP labeller that taught it (bare arm skin beside the top, in the upper-arm and forearm bands)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from garment_search.embedding.measured_channels import SLEEVE, with_measured_channels
from garment_search.families import tag_kept_groups
from garment_search.sleeves import MODEL_PATH, SLEEVES, VIEW_SIZE, query_sleeves, sleeve_profile, square_view


def named(text: str) -> dict[str, float]:
    return {SLEEVES[i]: round(float(v), 3) for i, v in enumerate(query_sleeves(text)) if v}


def test_queries_name_sleeve_lengths_as_shoppers_write_them():
    assert named("purple short sleeve tunic") == named("short-sleeved blouse") == {"short": 1.0}
    assert named("Long Sleeve shirt") == named("long-sleeved top") == named("longsleeve") == {"long": 1.0}
    assert named("sleeveless midi dress") == named("black strapless dress") == {"sleeveless": 1.0}
    assert named("dress with long sleeves") == {"long": 1.0}
    assert named("long floral dress") == named("short skirt") == named("a red top") == {}


def top_view(rgb: np.ndarray, kept: tuple[str, ...] = ("upper", "one-piece")) -> Image.Image:
    return tag_kept_groups(Image.fromarray(rgb), list(kept))


def test_square_view_keeps_the_aspect_on_black():
    view = square_view(Image.fromarray(np.full((200, 100, 3), 200, np.uint8)))
    assert view.shape == (VIEW_SIZE, VIEW_SIZE, 3)
    assert view[:, VIEW_SIZE // 2].min() == 200 and view[:, :VIEW_SIZE // 4 - 1].max() == 0


def test_shipped_classifier_reads_top_views_and_nothing_else():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (120, 90, 3), dtype=np.uint8)
    profile = sleeve_profile(top_view(rgb))
    assert profile.shape == (len(SLEEVES),) and profile.sum() == pytest.approx(1.0, abs=1e-4)
    assert not sleeve_profile(top_view(rgb, ("lower",))).any()  # trousers have no sleeves
    assert not sleeve_profile(Image.fromarray(rgb)).any()  # an original photo: no cut-out, no measurement


def test_the_classifiers_hash_is_part_of_the_channels_identity():
    class Inner:
        identity = "m@1"

    identity = with_measured_channels(Inner(), 0, 0, 0, 0.05).identity
    assert identity.startswith("m@1+sleeve@") and identity.endswith("0.05")
    assert SLEEVE.version() in identity and MODEL_PATH.stat().st_size < 4_000_000


def person(arm_skin_from: float | None) -> np.ndarray:
    """A 200-row label map: hair (1) at the top, a torso top (5) from row 30 to 110, and arms beside it from the
    shoulder (row 36) to the wrist (row 100) — bare skin (41) from ``arm_skin_from`` of the height down, sleeve
    (top) above; feet (7) at the bottom."""
    labels = np.zeros((200, 100), np.uint8)
    labels[0:20, 40:60] = 1
    labels[30:110, 35:65] = 5
    labels[190:200, 40:60] = 7
    for cols in (slice(25, 35), slice(65, 75)):
        labels[36:100, cols] = 5
        if arm_skin_from is not None:
            labels[int(arm_skin_from * 199):100, cols] = 41
    return labels


def test_ccp_labeller_reads_sleeve_length_from_bare_arm_skin():
    from training.sleeves.labels import UNKNOWN, SleeveLabeller

    label = SleeveLabeller(tops=[5], skin=[41])
    assert SLEEVES[label(person(None))] == "long"
    assert SLEEVES[label(person(0.36))] == "short"  # skin from the elbow down
    assert SLEEVES[label(person(0.18))] == "sleeveless"
    assert label(person(0.30)) == UNKNOWN  # half the upper arm bare: not a confident label
    assert label(np.zeros((50, 50), np.uint8)) == UNKNOWN


def test_channel_on_folds_sleeve_probabilities_into_the_vectors():
    from garment_search.embedding.measured_channels import MeasuredChannels

    class Constant:
        identity = "constant@test"

        def encode_images(self, images, batch_size=32):
            return np.tile(np.array([[0.6, 0.8]], np.float32), (len(images), 1))

        def encode_text(self, text):
            return np.array([0.6, 0.8], np.float32)

    channel = MeasuredChannels(Constant(), [(SLEEVE, 0.1)])
    rgb = np.random.default_rng(1).integers(0, 255, (120, 90, 3), dtype=np.uint8)
    photos = channel.encode_images([top_view(rgb), top_view(rgb, ("lower",))])
    assert photos.shape == (2, 2 + len(SLEEVES))
    assert photos[0, 2:].sum() == pytest.approx(0.1, abs=1e-4) and not photos[1, 2:].any()
    long_sleeve, plain = channel.encode_text("long sleeve top"), channel.encode_text("red top")
    assert (photos @ long_sleeve)[0] == pytest.approx(1.0 + photos[0, 2], abs=1e-5)
    assert (photos @ plain) == pytest.approx([1.0, 1.0])  # no sleeve named: the cosine alone
