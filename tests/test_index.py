"""The index builder: rows, identities, skipping and flagging, incremental rebuilds, shards, gs:// paths."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from garment_search.colours import COLOURS
from garment_search.patterns import PATTERNS
from garment_search.embedding import Embedder
from garment_search.embedding.querybank import as_served
from garment_search.index_file import IndexFile, InvalidIndex
from index import build as index_build
from index import merge as index_merge


def make_catalogue(root: Path, catalogue: dict[str, list[Path]], names: list[str] | None = None) -> Path:
    """Three products, two downsized photos each, plus a broken file and a blank card (no garment)."""
    products = sorted(catalogue)[:3]
    for k, product in enumerate(products):
        folder = root / (names[k] if names else product)
        folder.mkdir(parents=True)
        for photo in catalogue[product][:2]:
            im = Image.open(photo).convert("RGB")
            im.resize((im.width // 4, im.height // 4)).save(folder / photo.name, quality=92)
    first = root / (names[0] if names else products[0])
    (first / "broken.jpg").write_bytes(b"this is not a jpeg")
    Image.new("RGB", (300, 400), (200, 200, 200)).save(first / "blank.png")
    return root


@pytest.fixture(scope="module")
def model_embedder() -> Embedder:
    """The configured image-text model alone."""
    return Embedder().load()


@pytest.fixture(scope="module")
def embedder(model_embedder):
    """The embedder as served: the model with the measured channels and the querybank at the served weights."""
    return as_served(model_embedder)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, catalogue) -> Path:
    return make_catalogue(tmp_path_factory.mktemp("tiny") / "catalogue", catalogue)


@pytest.fixture(scope="module")
def tiny_index(tiny, tmp_path_factory, embedder) -> tuple[Path, IndexFile]:
    out = tmp_path_factory.mktemp("index") / "tiny.npz"
    return out, index_build.build(str(tiny), str(out), embedder=embedder)


def test_build_rows_identities_and_flags(tiny, tiny_index, embedder, capsys):
    out, index = tiny_index
    loaded = IndexFile.load(str(out))
    assert len(loaded) == 7  # 6 photos + the blank card; the broken file is skipped
    assert set(loaded.products) == {p.name for p in tiny.iterdir()}
    assert all(p.startswith(str(tiny)) for p in loaded.paths)
    assert loaded.model == embedder.identity and loaded.segmentation.startswith("garment-u2netp@")
    # offline, so test-time-augmented masks whatever remove_bg's setting; lone garments kept within their outline, as remove_bg does
    assert loaded.segmentation.split("+lone-outline@")[0].endswith("+tta3") and "+lone-outline@" in loaded.segmentation
    assert loaded.keep == "product" and loaded.built_at
    assert loaded.embeddings.dtype == np.float32
    weights = getattr(embedder, "weights", {})  # the measured channels' columns follow the image embedding
    sizes = {"colour": len(COLOURS), "pattern": len(PATTERNS), "family": 2, "sleeve": 3}
    querybank = 1 if getattr(embedder, "weight", 0) else 0  # the last column: −weight × how central the photo is
    extra = sum(sizes[name] for name in weights) + querybank
    if querybank:
        assert (loaded.embeddings[:, -1] < 0).all() and (loaded.embeddings[:, -1] > -embedder.weight * 1.5).all()
    image_part = loaded.embeddings[:, :loaded.embeddings.shape[1] - extra]
    assert np.allclose(np.linalg.norm(image_part, axis=1), 1, atol=1e-4)
    start = image_part.shape[1]
    for name, weight in weights.items():
        part = loaded.embeddings[:, start:start + sizes[name]]
        start += sizes[name]
        assert (part >= 0).all() and (part.sum(axis=1) <= weight + 1e-4).all()  # weight × shares, or none
        if name == "colour":
            assert np.allclose(part.sum(axis=1), weight, atol=1e-4)  # every photo has some colour
        if name == "family":  # keep=product: each cut-out kept one family; the blank card, no cut-out, none
            cut = ~np.array(loaded.no_garment)
            assert np.allclose(part[cut].max(axis=1), weight) and not part[~cut].any()
    flagged = [p for p, f in zip(loaded.paths, loaded.no_garment) if f]
    assert [Path(p).name for p in flagged] == ["blank.png"]


@pytest.mark.parametrize("readings,suffix", [("off", ""), ("mirror", "+mirror3")])
def test_a_build_with_other_readings_re_cuts_every_photo(tiny, tiny_index, embedder, tmp_path, readings, suffix):
    out, index = tiny_index
    copy = tmp_path / "copy.npz"
    copy.write_bytes(out.read_bytes())
    other = index_build.build(str(tiny), str(copy), embedder=embedder, tta=readings)
    assert other.segmentation == index.segmentation.replace("+tta3", suffix)  # other masks: nothing reused
    assert other.paths == index.paths and not np.allclose(other.embeddings, index.embeddings)


def test_rebuild_is_incremental(tiny, tiny_index, embedder, monkeypatch, tmp_path):
    out, index = tiny_index
    calls = []
    real = embedder.encode_images
    monkeypatch.setattr(embedder, "encode_images", lambda ims, **kw: calls.append(len(ims)) or real(ims, **kw))
    again = index_build.build(str(tiny), str(out), embedder=embedder)
    assert calls == [] and again.paths == index.paths
    assert np.allclose(again.embeddings, index.embeddings)
    changed = Path(next(p for p in index.paths if p.endswith(".jpg")))
    Image.open(changed).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(changed, quality=92)
    index_build.build(str(tiny), str(out), embedder=embedder)
    assert calls == [1]


def test_shards_are_disjoint_and_merge_to_the_whole(tiny, tiny_index, embedder, tmp_path):
    _, whole = tiny_index
    parts = []
    for i in range(2):
        part = tmp_path / f"part-{i}.npz"
        index_build.build(str(tiny), str(part), shard=(i, 2), embedder=embedder)
        parts.append(part)
    a, b = (IndexFile.load(str(p)) for p in parts)
    assert not set(a.paths) & set(b.paths)
    index_merge.main(["--out", str(tmp_path / "merged.npz"), *map(str, parts)])
    merged = IndexFile.load(str(tmp_path / "merged.npz"))
    whole_now = IndexFile.load(str(tiny_index[0]))
    assert merged.paths == whole_now.paths
    assert np.allclose(merged.embeddings, whole_now.embeddings, atol=1e-5)


def test_shard_defaults_to_cloud_run_task(monkeypatch):
    monkeypatch.setenv("CLOUD_RUN_TASK_INDEX", "2")
    monkeypatch.setenv("CLOUD_RUN_TASK_COUNT", "5")
    assert index_build.parse_shard(None) == (2, 5)
    assert index_build.parse_shard("1/3") == (1, 3)


def test_merge_refuses_mixed_models():
    a = IndexFile("m1", "s", "product", np.ones((1, 2), np.float32), ["p"], ["a"], ["d"], [False])
    b = IndexFile("m2", "s", "product", np.ones((1, 2), np.float32), ["p"], ["b"], ["d"], [False])
    with pytest.raises(InvalidIndex):
        IndexFile.merge([a, b])


def test_unreadable_index_is_invalid():
    with pytest.raises(InvalidIndex):
        IndexFile.from_bytes(b"garbage")


@pytest.fixture()
def gcs_emulator(monkeypatch):
    from gcp_storage_emulator.server import create_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="shop")
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    from garment_search import storage

    storage._client.cache_clear()
    yield storage
    storage._client.cache_clear()
    server.stop()


def test_build_and_search_on_cloud_storage(gcs_emulator, tiny, embedder, monkeypatch):
    storage = gcs_emulator
    for path in sorted(tiny.rglob("*")):
        if path.is_file():
            storage.write_bytes(f"gs://shop/catalogue/{path.relative_to(tiny).as_posix()}", path.read_bytes())
    index = index_build.build("gs://shop/catalogue", "gs://shop/index/catalogue.npz", embedder=embedder)
    assert all(p.startswith("gs://shop/catalogue/") for p in index.paths)
    loaded = IndexFile.load("gs://shop/index/catalogue.npz")
    assert loaded.paths == index.paths and len(loaded) == 7


@pytest.mark.parametrize("images, path_root, expected", [
    ("../shared/sample", "sample", "sample/p/1.jpg"),
    ("gs://shop/catalogue/", "https://storage.googleapis.com/shop/catalogue", "https://storage.googleapis.com/shop/catalogue/p/1.jpg"),
    ("gs://shop/catalogue", None, "gs://shop/catalogue/p/1.jpg"),
])
def test_stored_paths_spell_the_catalogue_root_as_asked(images, path_root, expected):
    """What search answers as ``url``: the path as given, or the catalogue root spelled as ``--path-root`` (a
    public address gives links a browser can open)."""
    source = images.rstrip("/") + "/p/1.jpg"
    assert index_build.stored_path(source, images, path_root) == expected
