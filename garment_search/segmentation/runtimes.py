"""Where the garment model's passes run: onnxruntime, or OpenVINO on CPUs that compute bfloat16 natively.

On the 2-core AMD EPYC this project is developed on (AVX-512 with BF16), OpenVINO's CPU plugin runs the garment
model's body (garment or not, ~95% of its time) in bfloat16 about twice as fast as onnxruntime in float32; in float32
it is no faster. The group split after the body runs in float32, because in bf16 it moved enough to lower the group
IoUs. So ``auto`` uses OpenVINO only where it would run bf16: remove_bg's requests take ~0.7× the time there, every
CCP row within 0.003 (docs/benchmarks.md, "OpenVINO's bfloat16 on CPUs"). There it runs the body's int8 copy
(``int8_body``; ``training.segmentation.quantise``) where the model has one: its passes take ~0.64× the bf16 body's,
which buys remove_bg a third reading of worn photos (``sessions.INT8_READINGS``; "An int8 body on OpenVINO"). Index
builds always read with onnxruntime in float32, so an index never depends on the machine it was built on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from garment_search.identity import file_digest

#: ``SEGMENTATION_RUNTIME`` values: ``auto`` (default), or force one. ``openvino-int8`` is OpenVINO with the body
#: quantised to int8 (``training.segmentation.quantise``; the split after it in float32).
RUNTIMES = ("auto", "onnxruntime", "openvino", "openvino-int8")
#: A pass of the model at one input size: (1, 3, H, W) float32 input → (1, C, H, W) float32 maps.
ModelPass = Callable[[np.ndarray], np.ndarray]


@lru_cache(maxsize=1)
def openvino_core() -> Any:
    """The process's one OpenVINO ``Core``, which every model here is read and compiled with. A Core installs an
    alternate signal stack on the thread that compiles with it and puts the previous one back when it goes, so Cores
    that come and go out of order leave a thread's alternate stack pointing at freed memory: the next signal handled on
    it (a child process ending, under Python's handlers) killed the test process with SIGSEGV. One Core for the life
    of the process never goes."""
    import openvino as ov

    return ov.Core()


@lru_cache(maxsize=1)
def default_precision() -> str | None:
    """The precision OpenVINO's CPU plugin computes in here by default (``bf16`` only where the CPU computes bfloat16
    natively: AVX-512 BF16 or AMX; else ``f32``), or None without OpenVINO."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return None
    return openvino_core().get_property("CPU", "INFERENCE_PRECISION_HINT").get_type_name()


def openvino_bf16() -> bool:
    """Whether OpenVINO is installed and computes bf16 here: the only case where it beats onnxruntime on this
    model."""
    return default_precision() == "bf16"


def runtime_wanted(on_gpu: bool, for_index: bool, model: str | Path | None = None) -> str:
    """The runtime ``SEGMENTATION_RUNTIME`` asks for: ``onnxruntime``, ``openvino`` or ``openvino-int8`` force one
    (index builds always use onnxruntime); ``auto`` (default) takes OpenVINO on CPUs that run it in bf16
    (``openvino_bf16``) — with the int8 body where ``model`` has one quantised from it (``int8_ready``), else the
    bf16 body — and onnxruntime elsewhere (GPUs included)."""
    raw = os.environ.get("SEGMENTATION_RUNTIME", "").strip().lower() or "auto"
    if raw not in RUNTIMES:
        raise ValueError(f"SEGMENTATION_RUNTIME must be {', '.join(RUNTIMES)}, not {raw!r}.")
    if for_index:
        return "onnxruntime"
    if raw == "auto":
        if on_gpu or not openvino_bf16():
            return "onnxruntime"
        return "openvino-int8" if model is not None and int8_ready(model) else "openvino"
    if raw.startswith("openvino") and default_precision() is None:
        raise ValueError(f"SEGMENTATION_RUNTIME={raw} needs the openvino package "
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
    precision.

    ``body`` (with ``bf16_part``) is an int8 copy of that part (``int8_body``): it computes ``bf16_part`` instead,
    the rest stays in float32."""

    def __init__(self, path: str, threads: int = 0, bf16_part: str | None = None, body: str | None = None) -> None:
        self._core = openvino_core()
        self._bf16_part = bf16_part
        self._body = read_int8_body(body)[0] if body else None
        self._config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self._config["INFERENCE_NUM_THREADS"] = threads
        self._compiled: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._compiling: dict[tuple[int, int], threading.Lock] = {}
        self._idle: dict[tuple[int, int], list[list[Any]]] = {}
        self._lock = threading.Lock()
        self._model = self._core.read_model(path)  # read once; each size compiles a reshaped copy
        self._split = bool(bf16_part) and self._cut(self._model) is not None
        default = default_precision()
        #: The precision it computes in (``bf16`` or ``f32``), followed by ``-f32`` when only the part up to
        #: ``bf16_part`` runs at it.
        self.precision = f"{default}-f32" if self._split and default != "f32" else default
        if self._body is not None:
            if not self._split:
                raise ValueError(f"{path} has no tensor {bf16_part!r} for an int8 body to compute.")
            self.precision = "int8-f32"

    def _read(self, size: tuple[int, int]) -> Any:
        model = self._model.clone()
        model.reshape({model.inputs[0].get_any_name(): [1, 3, *size]})
        return model

    def _cut(self, model: Any) -> Any | None:
        """The output named ``bf16_part`` in ``model``, or None."""
        return output_named(model, self._bf16_part)

    def compiled_at(self, size: tuple[int, int]) -> tuple[Any, ...]:
        """The model compiled for ``size`` (height, width), on first use: one graph, or (bf16 part, float32 rest)."""
        import openvino as ov
        from openvino import opset13

        with self._lock:
            size_lock = self._compiling.setdefault(size, threading.Lock())
        with size_lock:  # one compile per size; other sizes compile at the same time (compile_model frees the GIL)
            if size not in self._compiled:
                model = self._read(size)
                cut = self._cut(model) if self._split else None
                if cut is None:
                    compiled: tuple[Any, ...] = (self._core.compile_model(model, "CPU", self._config),)
                else:
                    if self._body is None:
                        head = ov.Model([cut], model.get_parameters(), "bf16-part")
                    else:
                        head = self._body.clone()
                        head.reshape({head.inputs[0].get_any_name(): [1, 3, *size]})
                    rest = self._read(size)
                    rest_cut = self._cut(rest)
                    fed = opset13.parameter(rest_cut.get_partial_shape(), rest_cut.get_element_type(), self._bf16_part)
                    for consumer in rest_cut.get_target_inputs():
                        consumer.replace_source_output(fed.output(0))
                    tail = ov.Model(rest.get_results(), [*rest.get_parameters(), fed], "f32-rest")
                    f32 = {**self._config, "INFERENCE_PRECISION_HINT": "f32"}
                    compiled = (self._core.compile_model(head, "CPU", self._config),
                                self._core.compile_model(tail, "CPU", f32))
                with self._lock:
                    self._compiled[size] = compiled
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


def output_named(model: Any, name: str) -> Any | None:
    """The output of an OpenVINO model's operation that carries tensor ``name`` (where the body ends), or None."""
    for op in model.get_ordered_ops():
        for output in op.outputs():
            if name in output.get_names():
                return output
    return None


#: The key of an int8 body's ``rt_info`` that holds the digest of the model it was quantised from.
INT8_SOURCE_KEY = "garment_search_source_digest"


def int8_body_path(model: str | Path) -> Path:
    """Where the int8 copy of a model's body lives: beside the model (``x.onnx`` → ``x.int8-body.xml`` and ``.bin``),
    where ``training.segmentation.quantise`` writes it."""
    return Path(model).with_suffix(".int8-body.xml")


def int8_body(model: str | Path) -> str:
    """The int8 body of ``model``, checked to be quantised from exactly that file (its digest in the body's
    ``rt_info``): an int8 body left from an older model must not run in front of a newer split."""
    path = int8_body_path(model)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: SEGMENTATION_RUNTIME=openvino-int8 needs the int8 body of {model} "
                                "(python -m training.segmentation.quantise); or set SEGMENTATION_RUNTIME=openvino.")
    source = _int8_source(path)
    if source != file_digest(model):
        raise ValueError(f"{path} was quantised from another model ({source or 'unrecorded'}, not "
                         f"{file_digest(model)}); re-run python -m training.segmentation.quantise.")
    return str(path)


def int8_ready(model: str | Path) -> bool:
    """Whether ``model`` has an int8 body quantised from it (``int8_body`` would return it): ``auto`` then runs it;
    a model without one (a newly trained split, ``GARMENT_MODEL_PATH``) runs the bf16 body instead of failing."""
    path = int8_body_path(model)
    return path.exists() and _int8_source(path) == file_digest(model)


def read_int8_body(path: str | Path) -> tuple[Any, str]:
    """An int8 body as OpenVINO reads it, and the digest of the model it records it was quantised from ("" if none).
    Parsing the IR takes ~0.1 s, and a cold start asks three times (``auto``'s check, the strict check, the compile);
    so each content (the digests of its two files, ~4 ms to take) is read once. The model is shared: compile clones
    it."""
    path = Path(path)
    return _read_int8_ir(str(path), file_digest(path) + file_digest(path.with_suffix(".bin")))


@lru_cache(maxsize=2)
def _read_int8_ir(path: str, content: str) -> tuple[Any, str]:
    body = openvino_core().read_model(path)
    return body, body.get_rt_info([INT8_SOURCE_KEY]).astype(str) if body.has_rt_info([INT8_SOURCE_KEY]) else ""


def _int8_source(path: Path) -> str:
    """The digest of the model an int8 body records it was quantised from, or an empty string."""
    return read_int8_body(path)[1]
