"""Give a garment model a second, finer group split for the explicit-group keeps (``upper``, ``lower``, ``one-piece``).

    python -m training.segmentation.finer_split --served models/garment_groupnet.onnx \
        --with /tmp/tt.onnx --out models/garment_groupnet.onnx

Every group-split candidate since stop 21 (more networks, networks from other trunks) split labelled garment pixels
better and flipped ``keep=product``'s family pick on a few photos more, which cost more product IoU than the pixels
won (docs/benchmarks.md). The pick and an explicit group's mask are different decisions; so one model answers both:
``--served`` keeps its split for ``product`` and ``garments``, and ``--with`` (an export of the same body with other
group networks, ``training.segmentation.export --init``) adds its networks, whose split is averaged with the served
one for the explicit groups. The graph's output is ``1 + 2 × groups`` channels — background, the served split, the
finer split — and ``GROUP_KEEP_METADATA`` names the channels an explicit-group keep reads (``sessions.GarmentSession``).
The networks of ``--with`` read the served graph's body output, so the body runs once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from garment_search.segmentation.groups import GARMENT_GROUPS
from garment_search.segmentation.sessions import GARMENT_BODY_OUTPUT, GROUP_KEEP_METADATA, SIZE_METADATA, TTA_SCALES

#: Prefix of the grafted model's nodes and tensors.
PREFIX = "finer/"


def _ancestors(graph, tensor: str, stop: frozenset[str] = frozenset()) -> set[str]:
    """Names of the nodes ``tensor`` is computed from (not past the tensors in ``stop``)."""
    producer = {out: node for node in graph.node for out in node.output}
    seen: set[str] = set()
    stack = [tensor]
    while stack:
        name = stack.pop()
        node = None if name in stop else producer.get(name)
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        stack.extend(i for i in node.input if i)
    return seen


#: The served split's output inside a grafted graph.
SERVED_OUTPUT = "served/probabilities"


def served_part(model):
    """A model without its finer split (``keep=product``'s graph alone), so that another can be grafted in its
    place; a model without one comes back as it is."""
    import onnx
    from onnx import helper

    if not any(p.key == GROUP_KEEP_METADATA for p in model.metadata_props):
        return model
    part = onnx.ModelProto()
    part.CopyFrom(model)
    graph = part.graph
    out = graph.output[0].name
    kept = _ancestors(graph, SERVED_OUTPUT)
    nodes = [node for node in graph.node if node.name in kept]
    for node in nodes:
        node.output[:] = [out if o == SERVED_OUTPUT else o for o in node.output]
    read = {i for node in nodes for i in node.input}
    initialisers = [t for t in graph.initializer if t.name in read]
    del graph.node[:], graph.initializer[:]
    graph.node.extend(nodes)
    graph.initializer.extend(initialisers)
    graph.output[0].type.tensor_type.shape.dim[1].dim_value = 1 + len(GARMENT_GROUPS)
    del part.metadata_props[:]
    helper.set_model_props(part, {p.key: p.value for p in model.metadata_props if p.key != GROUP_KEEP_METADATA})
    return part


def graft(served_path: Path, finer_path: Path):
    """The served model (its finer split, if it has one, left out) with ``finer_path``'s group networks grafted onto
    its body: output = background, the served split, the mean of the served and the grafted splits."""
    import onnx
    from onnx import helper, numpy_helper

    served, finer = served_part(onnx.load(str(served_path))), onnx.load(str(finer_path))
    gs, gf = served.graph, finer.graph
    produced = {out for node in gs.node for out in node.output}
    if GARMENT_BODY_OUTPUT not in produced:
        raise ValueError(f"{served_path} has no body output {GARMENT_BODY_OUTPUT!r}")
    body = _ancestors(gf, GARMENT_BODY_OUTPUT)
    body_tensors = {out for node in gf.node if node.name in body for out in node.output}
    shared = {gs.input[0].name} | {t for t in body_tensors & produced if t.startswith("/body/")}
    needed = {i for node in gf.node if node.name not in body for i in node.input if i in body_tensors - shared}
    for tensor in needed:  # a body tensor the networks read that the served graph does not name alike: keep its nodes
        body -= _ancestors(gf, tensor, frozenset(shared))
    rename = lambda name: name if (not name or name in shared) else PREFIX + name  # noqa: E731
    initialisers = {t.name: t for t in gf.initializer}
    nodes, used = [], set()
    for node in gf.node:
        if node.name in body:
            continue
        grafted = helper.make_node(node.op_type, [rename(i) for i in node.input], [rename(o) for o in node.output],
                                   name=PREFIX + node.name, domain=node.domain)
        grafted.attribute.extend(node.attribute)
        nodes.append(grafted)
        used.update(i for i in node.input if i in initialisers)
    for name in sorted(used):
        tensor = onnx.TensorProto()
        tensor.CopyFrom(initialisers[name])
        tensor.name = PREFIX + name
        gs.initializer.append(tensor)
    out = gs.output[0].name
    for node in gs.node:
        node.output[:] = [SERVED_OUTPUT if o == out else o for o in node.output]
    groups = len(GARMENT_GROUPS)
    constants = {"finer/half": np.array(0.5, np.float32), "finer/starts": np.array([1], np.int64),
                 "finer/ends": np.array([1 + groups], np.int64), "finer/axes": np.array([1], np.int64)}
    gs.initializer.extend(numpy_helper.from_array(value, name) for name, value in constants.items())
    split_of = lambda tensor: helper.make_node("Slice", [tensor, "finer/starts", "finer/ends", "finer/axes"],  # noqa: E731
                                               [tensor + "/split"], name=tensor + "/slice")
    finer_out = PREFIX + gf.output[0].name
    nodes += [split_of(SERVED_OUTPUT), split_of(finer_out),
              helper.make_node("Add", [SERVED_OUTPUT + "/split", finer_out + "/split"], ["finer/sum"], name="finer/add"),
              helper.make_node("Mul", ["finer/sum", "finer/half"], ["finer/mean"], name="finer/mean"),
              helper.make_node("Concat", [SERVED_OUTPUT, "finer/mean"], [out], name="finer/concat", axis=1)]
    gs.node.extend(nodes)
    del gs.value_info[:]
    gs.output[0].type.tensor_type.shape.dim[1].ClearField("dim_param")
    gs.output[0].type.tensor_type.shape.dim[1].dim_value = 1 + 2 * groups
    channels = ",".join(str(c) for c in (0, *range(1 + groups, 1 + 2 * groups)))
    helper.set_model_props(served, {**{p.key: p.value for p in served.metadata_props}, GROUP_KEEP_METADATA: channels})
    onnx.checker.check_model(served)
    return served


def check(out: Path, served: Path, finer: Path) -> float:
    """Largest difference between the grafted model and what it stands for (the served model's output, and the mean
    of both models' splits), at every test-time size."""
    import onnx
    import onnxruntime as ort

    served_model = served_part(onnx.load(str(served))).SerializeToString()
    sessions = [ort.InferenceSession(m) for m in (str(out), served_model, str(finer))]
    meta = sessions[1].get_modelmeta().custom_metadata_map
    height, width = (int(meta[k]) for k in SIZE_METADATA)
    groups = len(GARMENT_GROUPS)
    worst = 0.0
    for scale in TTA_SCALES:
        x = np.random.default_rng(0).random((1, 3, round(height * scale), round(width * scale)), dtype=np.float32)
        got, a, b = (s.run(None, {s.get_inputs()[0].name: x})[0] for s in sessions)
        if np.abs(a[:, 0] - b[:, 0]).max() > 1e-5:
            raise ValueError(f"{finer} has another body than {served}: export it with --init from the same body")
        want = np.concatenate([a, (a[:, 1:] + b[:, 1:]) / 2], axis=1)
        assert got.shape[1] == 1 + 2 * groups
        worst = max(worst, float(np.abs(got - want).max()))
    if worst > 1e-5:
        raise ValueError(f"the grafted model differs from its parts by {worst:.2g}")
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--served", type=Path, required=True, help="the garment model whose split keep=product reads")
    ap.add_argument("--with", dest="finer", type=Path, required=True,
                    help="an export of the same body with other group networks (export --init --group-net ...)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import onnx

    model = graft(args.served, args.finer)
    tmp = args.out.with_suffix(".tmp.onnx")
    onnx.save(model, str(tmp))
    worst = check(tmp, args.served, args.finer)
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB), within {worst:.1g} of its parts")


if __name__ == "__main__":
    main()
