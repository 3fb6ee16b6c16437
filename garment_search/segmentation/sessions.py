"""Segmentation models as rembg sessions: one small class per model behind one interface.

Each session returns per-class probability maps at model resolution (channel 0 = background, then one channel
per group in ``groups``); ``garment_search.segmentation.masks`` turns them into full-resolution masks. Sessions
are rembg ``BaseSession`` subclasses, so ``rembg.remove(img, session=...)`` works with them too.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image
from rembg.sessions.base import BaseSession
from rembg.sessions.u2netp import U2netpSession

from garment_search.config import MODEL_CACHE_DIR, MODELS_DIR, env_flag, env_switch, ort_threads
from garment_search.identity import file_digest
from garment_search.onnx_metadata import onnx_metadata
from garment_search.segmentation.groups import DEFAULT_KEEP, GARMENT_GROUPS
from garment_search.segmentation.head_coverings import HeadCut, drop_head_coverings
from garment_search.segmentation.masks import MASK_RULES, drop_unsure_regions
from garment_search.segmentation.pose import PoseReader, body_seen, pose_reader
from garment_search.segmentation.regions import RegionPooling, pool_split_over_regions
from garment_search.segmentation.runtimes import ModelPass, OpenVinoModel, int8_body, runtime_wanted

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
#: The served garment model: v6's u2netp body (garment or not, ``models/garment_u2netp.onnx``) with two pretrained
#: group networks re-splitting its garment probability (``training.segmentation.group_net``; docs/benchmarks.md,
#: "A pretrained group network"). One ONNX file with the body's interface.
GARMENT_MODEL_FILE = MODELS_DIR / "garment_groupnet.onnx"
#: The body's output in the garment model's graph: OpenVINO runs what computes it (~95% of the time) in bf16 where the
#: CPU computes bf16, and the group networks' split after it in float32 (``runtimes.OpenVinoModel``).
GARMENT_BODY_OUTPUT = "/body/outconv/Conv_output_0"


def _normalise(rgb: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """RGB → 1×3×H×W float32 ImageNet-normalised input of ``size`` (width, height)."""
    arr = np.asarray(rgb.resize(size, Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
    return ((arr - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None]


#: Test-time augmentation of the garment model, as data: each reading set lists the multiples of the model's trained
#: input size a photo is read at, each with whether it is also read mirrored; every map (brought to the trained size)
#: counts once in the mean. A garment looks the same mirrored and a little larger, the model's mistakes need not; on
#: CCP validation (docs/benchmarks.md, "Test-time augmentation") mirroring lifted product IoU 0.734 → 0.756 and the
#: 1.2× reading 0.756 → 0.773, while a 0.8× reading lowered it. ``full`` (four model passes) is for where inference
#: is cheap (a GPU, the offline index builder); ``mirror`` (two) is the most remove_bg's CPU latency budget affords on
#: onnxruntime; ``three`` (the photo, its mirror image and the unmirrored 1.2×: ~3.4 passes' time) sits between them;
#: ``pair`` (the trained size and 1.2×, unmirrored: ~2.4 passes' time) is an option, refused as the CPU default in
#: stop 32 (lone garments kept whole fell; its product IoU gain was a different family pick on a few photos).
READINGS: dict[str, tuple[tuple[float, bool], ...]] = {
    "off": ((1.0, False),),
    "mirror": ((1.0, True),),
    "full": ((1.0, True), (1.2, True)),
    "pair": ((1.0, False), (1.2, False)),
    "three": ((1.0, True), (1.2, False)),
}
TTA_SCALES = tuple(scale for scale, _ in READINGS["full"])
#: Reading sets chosen per photo by whether someone wears the clothes (``pose.body_seen``): name → (the ``READINGS``
#: set where someone does, the one where no one does). The unmirrored 1.2× reading is there for the outfit split
#: (which family a worn photo shows); a lone garment has no outfit, and there the 1.2× reading gave part of it to the
#: other family (lone garments kept whole fell with ``pair`` and ``three``). ``three-worn`` reads worn photos as
#: ``three`` and lone garments as ``mirror`` (docs/benchmarks.md, "An int8 body on OpenVINO").
BY_WEARER: dict[str, tuple[str, str]] = {"three-worn": ("three", "mirror")}
#: Every reading set a session can be given (``SEGMENTATION_TTA``).
READING_SETS: tuple[str, ...] = (*READINGS, *BY_WEARER)
#: Averaged readings must not erase a garment the plain reading keeps: a close-up that fills the frame can read as
#: background mirrored or enlarged (the sample's knit close-up: mean garment probability 0.77 plain, 0.52 mirrored,
#: 0.40 fully averaged, and the region gate then dropped the whole garment). Where the garment the average would keep
#: (``_kept_garment``: the masks' own region gate) is below this share of what the plain reading would keep, the photo
#: keeps the plain reading.
TTA_GUARD_SHARE = 0.5
#: Revision of the guard, recorded in the segmentation identity (2: raw garment shares; 3: kept garment).
TTA_GUARD_REVISION = 3

#: The exported garment model's free input dimensions (height, width) and the metadata keys that hold the size it
#: is read at (``training.segmentation.export`` writes both).
FREE_DIMS = ("height", "width")
SIZE_METADATA = ("input_height", "input_width")
#: The metadata key of a model with a second, finer group split for the explicit-group keeps
#: (``training.segmentation.finer_split``): the output channels those keeps read, background first.
GROUP_KEEP_METADATA = "group_keep_channels"


class SegmentationSession(BaseSession):
    """A rembg session that exposes class probabilities, and its identity for index files."""

    groups: tuple[str, ...] = ()
    #: Test-time augmentation: a ``READINGS`` name (``tta_wanted``; garment model only).
    tta: str = "off"
    #: The group split pooled over colour regions (``regions``; ``SPLIT_REGIONS``), or None.
    region_pooling: RegionPooling | None = None
    #: Head coverings dropped by pose and colour regions (``head_coverings``; ``HEAD_COVERINGS``), or None.
    head_cut: HeadCut | None = None
    #: ``keep=product`` keeps the whole outline of a garment that no one wears (``LONE_GARMENTS``).
    lone_garments: bool = False
    #: The pose model, loaded when the head cut or the lone-garment rule needs it.
    pose: PoseReader | None = None

    def probabilities(self, rgb: Image.Image) -> np.ndarray:
        """(1 + len(groups), h, w) float32 probabilities at model resolution; channel 0 is background. The maps
        every mask is cut from; a session that picks ``keep=product``'s family on other maps also has ``maps``
        (read through ``segmentation.segmentation_maps``)."""
        raise NotImplementedError

    def body_seen(self, rgb: Image.Image) -> bool:
        """Whether someone wears the clothes in ``rgb`` (``pose.body_seen``), asked only by ``keep=product``
        when its family pick would drop garment pixels; always True unless ``lone_garments`` is on."""
        if not self.lone_garments or self.pose is None:
            return True
        return body_seen(self.pose.keypoints(rgb))

    def predict(self, img: Image.Image, *args, **kwargs) -> list[Image.Image]:
        """rembg interface: one mask (garment union) at the image's size."""
        probs = self.probabilities(img.convert("RGB"))
        fg = Image.fromarray(((1.0 - probs[0]) * 255).astype(np.uint8), mode="L")
        return [fg.resize(img.size, Image.Resampling.BILINEAR)]

    @cached_property
    def identity(self) -> str:
        """``name@sha256-prefix`` of the weights, the mask rules' revision (``masks.MASK_RULES``) and, when maps are
        averaged over augmented readings, the reading set and the guard's revision (``+tta3``: ``full``;
        ``+mirror3``), the region pooling when on (``+regions8x1``), and the head-covering cut and the lone-garment
        rule with their pose model's hash when on (``+heads0.75x0.4x4+lone-outline@…``); the runtime follows the
        weights' hash when it is not onnxruntime (``@…+openvino-bf16-f32+masks3``): stored with every index so no two
        ways of cutting out are ever mixed."""
        tta = "" if self.tta == "off" else f"+{'tta' if self.tta == 'full' else self.tta}{TTA_GUARD_REVISION}"
        regions = self.region_pooling.tag if self.region_pooling else ""
        posed = (self.head_cut.tag if self.head_cut else "") + ("+lone-outline" if self.lone_garments else "")
        pose = f"{posed}@{file_digest(self.pose.path)}" if (posed or self.tta in BY_WEARER) and self.pose else ""
        runtime = "" if self.runtime == "onnxruntime" else f"+{self.runtime}"
        return f"{self.name()}@{file_digest(self.download_models())}{runtime}+masks{MASK_RULES}{tta}{regions}{pose}"

    @property
    def runtime(self) -> str:
        """What computes the model's passes: onnxruntime, unless a session says otherwise."""
        return "onnxruntime"


class GarmentSession(SegmentationSession):
    """Our fine-tuned u2netp predicting background / upper / lower / one-piece (training/segmentation).

    The exported graph takes any input size and records the one it was trained at (``training.segmentation.export``);
    each size asked for gets its own onnxruntime session with that size fixed, as fast as a fixed graph.
    """

    groups = GARMENT_GROUPS

    def __init__(self, model_name: str, sess_opts: ort.SessionOptions, *args, **kwargs) -> None:
        meta = onnx_metadata(self.download_models())
        self._free_size = all(key in meta for key in SIZE_METADATA)
        if self._free_size:  # read at the size the export recorded; older exports fix it in the graph
            self.input_size = tuple(int(meta[key]) for key in SIZE_METADATA)
            _fix_size(sess_opts, self.input_size)
        super().__init__(model_name, sess_opts, *args, **kwargs)
        if not self._free_size:
            height, width = self.inner_session.get_inputs()[0].shape[2:]
            if not (isinstance(height, int) and isinstance(width, int)):
                raise ValueError(f"{self.download_models()} has a free input size but no {'/'.join(SIZE_METADATA)} "
                                 "metadata; export it with python -m training.segmentation.export")
            self.input_size = height, width
        #: The output channels ``keep=upper|lower|one-piece`` read (background, then one per group) where the model has
        #: a finer split for them (``GROUP_KEEP_METADATA``), else None: every keep reads the first ``1 + groups``.
        self.group_keep_channels = ([int(c) for c in meta[GROUP_KEEP_METADATA].split(",")]
                                    if GROUP_KEEP_METADATA in meta else None)
        self._threads = sess_opts.intra_op_num_threads
        self._providers = self.inner_session.get_providers()
        self._by_size = {self.input_size: self.inner_session}
        #: OpenVINO's compiled model when it runs the passes (``use_openvino``), else None: onnxruntime.
        self.openvino: OpenVinoModel | None = None

    def use_openvino(self, int8: bool = False) -> None:
        """Run every pass with OpenVINO (``runtimes``): the body in bf16 where the CPU computes it — or its int8 copy
        (``int8``; ``runtimes.int8_body``) — and the split in float32; each reading size is compiled on first use
        (``new_segmentation_session`` asks for them all)."""
        model = self.download_models()
        self.openvino = OpenVinoModel(model, self._threads, bf16_part=GARMENT_BODY_OUTPUT,
                                      body=int8_body(model) if int8 else None)

    @property
    def runtime(self) -> str:
        """``onnxruntime``, or ``openvino-`` and its precision (``bf16-f32``: the body in bf16, the split in float32;
        ``int8-f32``: the body's int8 copy; ``f32``): what computes the passes."""
        return "onnxruntime" if self.openvino is None else f"openvino-{self.openvino.precision}"

    def tta_sizes(self, readings: str | None = None) -> list[tuple[int, int]]:
        """(height, width) of each reading of a ``READINGS`` set (default: the session's, or every size a
        ``BY_WEARER`` set may read), the trained size first."""
        height, width = self.input_size
        names = BY_WEARER.get(self.tta, (self.tta,)) if readings is None else (readings,)
        scales = dict.fromkeys(s for name in names for s, _ in READINGS[name])
        return [(round(height * s), round(width * s)) for s in scales]

    def reading_set(self, rgb: Image.Image) -> str:
        """The ``READINGS`` set this photo is read with: the session's, or for a ``BY_WEARER`` set the one for a worn
        photo or a lone garment (the pose model's answer, kept for the lone-garment rule that may ask next)."""
        if self.tta not in BY_WEARER:
            return self.tta
        worn, lone = BY_WEARER[self.tta]
        return worn if self.pose is not None and body_seen(self.pose.keypoints(rgb)) else lone

    def _check_size(self, size: tuple[int, int]) -> None:
        """Refuse a reading size an export fixed to another size cannot take (on any runtime)."""
        if size != self.input_size and not self._free_size:
            raise ValueError(f"{self.download_models()} was exported for {self.input_size[0]}×{self.input_size[1]} "
                             "only; re-export it (python -m training.segmentation.export --init FILE) for "
                             "test-time augmentation.")

    def session_at(self, size: tuple[int, int]) -> ort.InferenceSession:
        """The onnxruntime session reading photos at ``size`` (height, width), opened on first use."""
        if size not in self._by_size:
            self._check_size(size)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self._threads
            self._by_size[size] = ort.InferenceSession(self.download_models(), sess_options=_fix_size(opts, size),
                                                       providers=self._providers)
        return self._by_size[size]

    def pass_at(self, size: tuple[int, int]) -> ModelPass:
        """One pass of the model at ``size`` (height, width), on the session's runtime."""
        self._check_size(size)
        if self.openvino is not None:
            return self.openvino.pass_at(size)
        session = self.session_at(size)
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})[0]

    def _read(self, rgb: Image.Image, size: tuple[int, int], mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
        """The model's maps for ``rgb`` read at ``size`` (height, width): the plain reading, and that averaged with
        the mirror image's (flipped back) when ``mirrored``, else the plain reading again."""
        run = self.pass_at(size)
        x = _normalise(rgb, (size[1], size[0]))
        plain = run(x)[0].astype(np.float32, copy=False)
        if not mirrored:
            return plain, plain
        return plain, (plain + run(np.ascontiguousarray(x[..., ::-1]))[0][..., ::-1]) / 2

    def probabilities(self, rgb: Image.Image) -> np.ndarray:
        """The maps masks are cut from: the model's maps (``readings``), their group split pooled over colour
        regions when ``region_pooling`` is set, and the regions that cover the head made background when
        ``head_cut`` is set."""
        return self.maps(rgb)[0]

    def maps(self, rgb: Image.Image, keep: str = DEFAULT_KEEP) -> tuple[np.ndarray, np.ndarray]:
        """The maps ``keep``'s mask is cut from (``probabilities``) and the ones ``keep=product``'s family is picked
        on: the same readings, not pooled. Pooling mends a garment's pixels where the family is right, but moved whole
        garments across the family line often enough to flip the pick (docs/benchmarks.md, "The group split pooled
        over colour regions"), so the two decisions read different maps."""
        return self.maps_from(self.readings(rgb), rgb, keep)

    def maps_from(self, readings: np.ndarray, rgb: Image.Image, keep: str = DEFAULT_KEEP) -> tuple[np.ndarray, np.ndarray]:
        """``maps`` of a photo's ``readings``: an evaluation that cuts one photo out for several keeps reads it once."""
        plain = self.split_for(readings, keep)
        pooled = plain if self.region_pooling is None else pool_split_over_regions(plain, rgb, self.region_pooling)
        if self.head_cut is not None and self.pose is not None:
            keypoints = self.pose.keypoints(rgb)
            cut = drop_head_coverings(pooled, rgb, keypoints, self.head_cut)
            return cut, (cut if pooled is plain else drop_head_coverings(plain, rgb, keypoints, self.head_cut))
        return pooled, plain

    def split_for(self, readings: np.ndarray, keep: str) -> np.ndarray:
        """The channels of ``readings`` that ``keep`` reads: an explicit group's finer split where the model has one
        (``group_keep_channels``), else background and the model's own split. The finer split keeps the pick of
        ``product`` out of its trade: networks that split pixels better flipped that pick on a few photos more
        (docs/benchmarks.md, "Explicit-group keeps read a finer split")."""
        if self.group_keep_channels is not None and keep in self.groups:
            return readings[self.group_keep_channels]
        return readings[: 1 + len(self.groups)]

    def readings(self, rgb: Image.Image) -> np.ndarray:
        """One reading at the trained size; with ``tta`` the mean of every reading of its set (``READINGS``),
        each brought back to the trained size — unless that erases the plain reading's garment
        (``TTA_GUARD_SHARE``)."""
        name = self.reading_set(rgb)
        mirrored = [m for _, m in READINGS[name]]
        readings = [self._read(rgb, size, m) for size, m in zip(self.tta_sizes(name), mirrored)]
        plain = readings[0][0]  # every set reads the trained size first
        if len(readings) == 1 and not mirrored[0]:
            return plain
        maps = [_resized(both, self.input_size) for _, both in readings]
        # a mirrored size's map stands for two passes, a plain one for one (weights of 1 or 2 scale float32 sums by
        # powers of two, so sets read alike average exactly as a plain mean would)
        averaged = np.average(maps, axis=0, weights=np.array([1 + m for m in mirrored], dtype=np.float32))
        if _kept_garment(averaged) < TTA_GUARD_SHARE * _kept_garment(plain):
            return plain
        return averaged

    @classmethod
    def download_models(cls, *args, **kwargs) -> str:
        path = Path(os.environ.get("GARMENT_MODEL_PATH") or GARMENT_MODEL_FILE)
        if not path.exists():
            raise FileNotFoundError(f"Garment model {path} is missing; set GARMENT_MODEL_PATH or train it.")
        return str(path)

    @classmethod
    def name(cls, *args, **kwargs) -> str:
        return "garment-u2netp"


def _fix_size(opts: ort.SessionOptions, size: tuple[int, int]) -> ort.SessionOptions:
    """Fix the export's free input dimensions at ``size``: a session planned for one size runs as fast as a graph
    exported at it (a free-size session is ~12% slower on CPUs)."""
    for dim, value in zip(FREE_DIMS, size):
        opts.add_free_dimension_override_by_name(dim, value)
    return opts


def _kept_garment(probs: np.ndarray) -> float:
    """Share of a map's pixels the masks would keep as garment: probability ≥ 0.5, in a region sure enough for the
    masks' region gate (``masks.drop_unsure_regions``), read at model resolution."""
    garment = 1.0 - probs[0]
    return float(drop_unsure_regions(garment >= 0.5, garment).mean())


def _resized(probs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Each channel of a (C, h, w) map resized (bilinear) to ``size`` (height, width)."""
    if probs.shape[1:] == size:
        return probs
    return np.stack([np.asarray(Image.fromarray(c).resize((size[1], size[0]), Image.Resampling.BILINEAR))
                     for c in probs])


class PersonSession(SegmentationSession, U2netpSession):
    """rembg's u2netp salient-object (person) cut-out: the baseline, with one group covering the whole person."""

    groups = ("person",)

    def probabilities(self, rgb: Image.Image) -> np.ndarray:
        feed = self.normalize(rgb, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), (320, 320))
        fg = self.inner_session.run(None, feed)[0][0, 0].astype(np.float32)
        return np.stack([1.0 - fg, fg])

    @classmethod
    def download_models(cls, *args, **kwargs) -> str:
        """The offline copy placed by the setup script (rembg would otherwise download it)."""
        os.environ.setdefault("U2NET_HOME", str(MODEL_CACHE_DIR))
        existing = cls.resolve_existing("u2netp.onnx")
        if existing is None:
            raise FileNotFoundError(f"u2netp.onnx not found under {cls.legacy_home()}; run scripts/setup.")
        return existing


#: Whether ``keep=product`` keeps a lone garment's outline (``LONE_GARMENTS`` unset): where no one wears the clothes
#: (a flat lay, a hanger) there is no outfit to take apart, and the family pick only tears the garment where the model
#: reads part of it as another group. On since stop 30: it never fires on CCP's worn photos (product IoU unchanged),
#: keeps 96.4% of clothing-small's lone garments whole against 92.7%, and no held-out search row falls by more than
#: 0.002 (docs/benchmarks.md, "A lone garment keeps what its outline encloses").
LONE_GARMENTS_DEFAULT = True

#: How remove_bg's masks pool the group split over colour regions (``SPLIT_REGIONS`` unset): a plain dress decided as
#: one garment, not a top over a skirt. On since stop 31, with ``keep=product``'s family picked before pooling: on CCP
#: validation product IoU 0.7687 → 0.7739 on CPUs (mirror) and 0.8030 → 0.8085 on GPUs, every group higher on both
#: paths (docs/benchmarks.md, "Pooled pixels, plain pick").
SPLIT_REGIONS_DEFAULT = RegionPooling(clusters=4, weight=0.5)
#: How index builds pool (``INDEX_SPLIT_REGIONS`` unset): not at all. The served embedding towers were trained on
#: un-pooled cut-outs, and an index of pooled ones lowered every held-out search row that moved (stop 31).
INDEX_SPLIT_REGIONS_DEFAULT = None

SESSIONS: dict[str, type[SegmentationSession]] = {"garment": GarmentSession, "u2netp": PersonSession}


def new_segmentation_session(name: str, tta: bool | str | None = None, for_index: bool = False) -> SegmentationSession:
    """Build the named session (``garment`` or ``u2netp``) with onnxruntime's threads from ``ORT_THREADS``;
    ``tta`` is a ``READINGS`` name (True: ``full``, False: ``off``), None follows ``SEGMENTATION_TTA`` (garment
    model only). ``for_index`` cuts photos out as index builds do: their pooling is ``INDEX_SPLIT_REGIONS``, not
    remove_bg's ``SPLIT_REGIONS``."""
    if name not in SESSIONS:
        raise ValueError(f"Unknown SEGMENTATION_MODEL {name!r}; choose one of {', '.join(SESSIONS)}.")
    opts = ort.SessionOptions()
    threads = ort_threads()
    if threads:
        opts.intra_op_num_threads = threads
    cls = SESSIONS[name]
    session = cls(cls.name(), opts)
    providers = session.inner_session.get_providers()
    garment = isinstance(session, GarmentSession)
    runtime = runtime_wanted(on_gpu(providers), for_index, session.download_models() if garment else None)
    if garment and runtime.startswith("openvino"):
        session.use_openvino(int8=runtime == "openvino-int8")
    if tta is None:
        tta = tta_wanted(providers, runtime if garment else "onnxruntime")
    mode = ("full" if tta else "off") if isinstance(tta, bool) else tta
    if mode not in READING_SETS:
        raise ValueError(f"Unknown reading set {mode!r}; choose one of {', '.join(READING_SETS)}.")
    session.tta = mode if name == "garment" else "off"
    if name == "garment":
        session.region_pooling = (RegionPooling.from_env("INDEX_SPLIT_REGIONS", INDEX_SPLIT_REGIONS_DEFAULT)
                                  if for_index else RegionPooling.from_env("SPLIT_REGIONS", SPLIT_REGIONS_DEFAULT))
        session.head_cut = HeadCut.from_env()
        session.lone_garments = env_switch("LONE_GARMENTS", LONE_GARMENTS_DEFAULT)
        if session.head_cut is not None or session.lone_garments or mode in BY_WEARER:
            session.pose = pose_reader()
            session.pose.session  # loaded at cold start with the segmentation model, not in the first request
    if garment:  # every reading's pass ready now: a one-size export fails at load
        sizes = session.tta_sizes()  # OpenVINO's compiles, most of its cold start, run side by side (GIL freed)
        with ThreadPoolExecutor(len(sizes) if session.openvino is not None else 1) as pool:
            list(pool.map(session.pass_at, sizes))
    return session


#: onnxruntime providers on which the garment model's extra passes cost milliseconds, not most of a request.
GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider")
#: The reading set ``auto`` uses on CPUs: the photo and its mirror image, 200 → 300 ms p50 per remove_bg request on 2
#: cores for product IoU 0.752 → 0.769 (``full`` would cost ~600 ms on onnxruntime, and 1.25× ``mirror``'s request
#: time with OpenVINO's bf16; docs/benchmarks.md, "remove_bg latency and cold start") — except where the int8 body
#: runs (``INT8_READINGS``).
CPU_READINGS = "mirror"
#: The reading set ``auto`` uses with the int8 body (``openvino-int8``): its passes take ~0.64× the bf16 body's, so
#: ``three-worn`` costs about what ``mirror`` did in bf16 (HTTP p50 0.98–1.11×), for CPU product IoU 0.773 → 0.801
#: (docs/benchmarks.md, "An int8 body on OpenVINO").
INT8_READINGS = "three-worn"


def on_gpu(providers: list[str]) -> bool:
    """Whether onnxruntime runs the model on a GPU (its first provider is one of ``GPU_PROVIDERS``)."""
    return bool(providers) and providers[0] in GPU_PROVIDERS


def tta_wanted(providers: list[str], runtime: str = "onnxruntime") -> str:
    """The ``READING_SETS`` name ``SEGMENTATION_TTA`` asks for: ``1``/``full``, ``0``/``off`` or another set's name
    force one; ``auto`` (default) averages every augmented reading when the model runs on a GPU, ``INT8_READINGS``
    where the int8 body runs (``runtime``) and ``CPU_READINGS`` on other CPUs, where more passes would break
    remove_bg's latency budget."""
    raw = os.environ.get("SEGMENTATION_TTA", "").strip().lower()
    if raw in ("", "auto"):
        if on_gpu(providers):
            return "full"
        return INT8_READINGS if runtime == "openvino-int8" else CPU_READINGS
    if raw in READING_SETS:
        return raw
    if env_flag("SEGMENTATION_TTA"):
        return "full"
    if raw in {"0", "false", "no"}:
        return "off"
    raise ValueError(f"SEGMENTATION_TTA must be auto, 1, {', '.join(r for r in READING_SETS if r != 'off')} or 0, "
                     f"not {raw!r}.")
