"""Where the garment model's passes run: onnxruntime, or OpenVINO on CPUs that compute bfloat16 natively.

On the 2-core AMD EPYC this project is developed on (AVX-512 with BF16), OpenVINO's CPU plugin runs the garment
model's body (garment or not, ~95% of its time) in bfloat16 about twice as fast as onnxruntime in float32; in float32
it is no faster. The group split after the body runs in float32, because in bf16 it moved enough to lower the group
IoUs. So ``auto`` uses OpenVINO only where it would run bf16: remove_bg's requests take ~0.7× the time there, every
CCP row within 0.003 (docs/benchmarks.md, "OpenVINO's bfloat16 on CPUs"). Index builds always read with onnxruntime
in float32, so an index never depends on the machine it was built on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

#: ``SEGMENTATION_RUNTIME`` values: ``auto`` (default), or force one.
RUNTIMES = ("auto", "onnxruntime", "openvino")
#: A pass of the model at one input size: (1, 3, H, W) float32 input → (1, C, H, W) float32 maps.
ModelPass = Callable[[np.ndarray], np.ndarray]


@lru_cache(maxsize=1)
def default_precision() -> str | None:
    """The precision OpenVINO's CPU plugin computes in here by default (``bf16`` only where the CPU computes bfloat16
    natively: AVX-512 BF16 or AMX; else ``f32``), or None without OpenVINO."""
    try:
        import openvino as ov
    except ImportError:
        return None
    return ov.Core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()


def openvino_bf16() -> bool:
    """Whether OpenVINO is installed and computes bf16 here: the only case where it beats onnxruntime on this
    model."""
    return default_precision() == "bf16"


def runtime_wanted(on_gpu: bool, for_index: bool) -> str:
    """The runtime ``SEGMENTATION_RUNTIME`` asks for: ``onnxruntime`` or ``openvino`` force one (index builds always
    use onnxruntime); ``auto`` (default) takes OpenVINO on CPUs that run it in bf16 (``openvino_bf16``), else
    onnxruntime (GPUs included)."""
    raw = os.environ.get("SEGMENTATION_RUNTIME", "").strip().lower() or "auto"
    if raw not in RUNTIMES:
        raise ValueError(f"SEGMENTATION_RUNTIME must be {', '.join(RUNTIMES)}, not {raw!r}.")
    if for_index:
        return "onnxruntime"
    if raw == "auto":
        return "openvino" if not on_gpu and openvino_bf16() else "onnxruntime"
    if raw == "openvino" and default_precision() is None:
        raise ValueError("SEGMENTATION_RUNTIME=openvino needs the openvino package "
                         "(requirements/remove_bg.txt); unset it to use onnxruntime.")
    return raw


class OpenVinoModel:
    """An ONNX model compiled by OpenVINO's CPU plugin, one compiled graph per input size. An infer request is not
    thread-safe and holds its own buffers, and the Functions Framework serves requests from a pool of threads; so each
    pass borrows an idle request from a pool and returns it: the pool grows only to the number of passes that ever ran
    at once (remove_bg's ``INFERENCE_CONCURRENCY``, 1 by default), not to the number of threads.

    ``bf16_part`` names a tensor of the graph: what computes it runs at the CPU's default precision (bf16 where the
    CPU computes it), everything after it in float32. The garment model's body (garment or not, ~95% of the time)
    keeps its masks in bf16, while its group split moved enough to lower the group IoUs (docs/benchmarks.md); so the
    split is cut off and reads the body's output in float32. Without that tensor the whole graph runs at the default
    precision."""

    def __init__(self, path: str, threads: int = 0, bf16_part: str | None = None) -> None:
        import openvino as ov

        self._core = ov.Core()
        self._bf16_part = bf16_part
        self._config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self._config["INFERENCE_NUM_THREADS"] = threads
        self._compiled: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._idle: dict[tuple[int, int], list[list[Any]]] = {}
        self._lock = threading.Lock()
        self._model = self._core.read_model(path)  # read once; each size compiles a reshaped copy
        self._split = bool(bf16_part) and self._cut(self._model) is not None
        default = default_precision()
        #: The precision it computes in (``bf16`` or ``f32``), followed by ``-f32`` when only the part up to
        #: ``bf16_part`` runs at it.
        self.precision = f"{default}-f32" if self._split and default != "f32" else default

    def _read(self, size: tuple[int, int]) -> Any:
        model = self._model.clone()
        model.reshape({model.inputs[0].get_any_name(): [1, 3, *size]})
        return model

    def _cut(self, model: Any) -> Any | None:
        """The output named ``bf16_part`` in ``model``, or None."""
        for op in model.get_ordered_ops():
            for output in op.outputs():
                if self._bf16_part in output.get_names():
                    return output
        return None

    def compiled_at(self, size: tuple[int, int]) -> tuple[Any, ...]:
        """The model compiled for ``size`` (height, width), on first use: one graph, or (bf16 part, float32 rest)."""
        import openvino as ov
        from openvino import opset13

        with self._lock:
            if size not in self._compiled:
                model = self._read(size)
                cut = self._cut(model) if self._split else None
                if cut is None:
                    self._compiled[size] = (self._core.compile_model(model, "CPU", self._config),)
                else:
                    head = ov.Model([cut], model.get_parameters(), "bf16-part")
                    rest = self._read(size)
                    rest_cut = self._cut(rest)
                    fed = opset13.parameter(rest_cut.get_partial_shape(), rest_cut.get_element_type(), self._bf16_part)
                    for consumer in rest_cut.get_target_inputs():
                        consumer.replace_source_output(fed.output(0))
                    tail = ov.Model(rest.get_results(), [*rest.get_parameters(), fed], "f32-rest")
                    f32 = {**self._config, "INFERENCE_PRECISION_HINT": "f32"}
                    self._compiled[size] = (self._core.compile_model(head, "CPU", self._config),
                                            self._core.compile_model(tail, "CPU", f32))
            return self._compiled[size]

    def pass_at(self, size: tuple[int, int]) -> ModelPass:
        """A pass at ``size`` (height, width) on an infer request borrowed from the pool."""
        compiled = self.compiled_at(size)

        def run(x: np.ndarray) -> np.ndarray:
            with self._lock:
                idle = self._idle.setdefault(size, [])
                requests = idle.pop() if idle else None
            if requests is None:
                requests = [c.create_infer_request() for c in compiled]
            try:
                if len(requests) == 1:
                    return requests[0].infer({0: x})[0].copy()
                head, rest = requests
                return rest.infer({0: x, 1: head.infer({0: x})[0]})[0].copy()
            finally:
                with self._lock:
                    self._idle[size].append(requests)

        return run

    def pooled_requests(self, size: tuple[int, int]) -> int:
        """How many request sets the pool holds for ``size``: the most passes that ran at once there."""
        with self._lock:
            return len(self._idle.get(size, []))
