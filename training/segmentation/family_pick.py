"""Choose the ``keep=product`` pick rule (which garment family a photo displays) on out-of-fold predictions.

    python -m training.segmentation.family_pick features --out oof.npz \\
        --fold-models 1/3=f1.onnx 2/3=f2.onnx 3/3=f3.onnx        # each model on the training photos it never saw
    python -m training.segmentation.family_pick features --out val.npz --val   # the shipped model on 0601–0700
    python -m training.segmentation.family_pick fit --oof oof.npz [--val val.npz]

Product IoU hangs on one binary decision per photo — upper+one-piece or lower (``groups.PRODUCT_FAMILIES``) —
and the shipped rule is "more argmax pixels". Fitting a better rule on the validation photos would tune it to
the photos that judge it, and the shipped model's own predictions on its training photos are too good to fit
against. So cross-validation fold models (``gpu_runs.sh`` with ``FOLDS=3``: each trained on two thirds of the
training photos) predict the third they never saw, through the serving session (test-time augmentation as
``SEGMENTATION_TTA`` says); candidate rules are fitted on those out-of-fold maps and compared by
leave-one-fold-out. Every photo counts with the labelled dominant family's share of the photo, because that is
what a wrong pick costs pooled product IoU.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image

from garment_search.images import load_image_file
from garment_search.segmentation import segmentation_maps
from garment_search.segmentation.groups import LOWER, ONE_PIECE, PRODUCT_FAMILIES, UPPER
from garment_search.segmentation.sessions import new_segmentation_session
from training.segmentation.data import VAL_IDS, ccp_class_table, ccp_files, fold_ids
from training.segmentation.evaluate import dominant_family

EPS = 1e-3  # share of the photo added to both sides of a log ratio: a family the model does not see at all


def map_features(probs: np.ndarray) -> np.ndarray:
    """What a rule may look at, from one photo's class probabilities (background, upper, lower, one-piece):
    argmax shares and probability-mass shares of the three groups."""
    labels = probs.argmax(0)
    hard = [float((labels == c).mean()) for c in (UPPER, LOWER, ONE_PIECE)]
    soft = [float(probs[c].mean()) for c in (UPPER, LOWER, ONE_PIECE)]
    return np.array(hard + soft, dtype=np.float64)


def rule_inputs(feats: np.ndarray) -> np.ndarray:
    """Per photo: argmax log ratio top/lower, mass log ratio top/lower, one-piece's part of the top family,
    and the garment share of the photo. The shipped rule is "the first ≥ 0"."""
    hu, hl, ho, su, sl, so = feats.T
    return np.stack([np.log((hu + ho + EPS) / (hl + EPS)), np.log((su + so + EPS) / (sl + EPS)),
                     ho / (hu + ho + EPS), hu + hl + ho], axis=1)


def collect(models: list[tuple[str, list[int]]], ccp: Path) -> dict[str, np.ndarray]:
    """Features, the labelled family (1 = upper+one-piece) and its share of the photo, for each (model, ids)."""
    table = ccp_class_table(ccp)
    rows: dict[str, list] = {"features": [], "top": [], "weight": [], "ids": [], "group": []}
    for group, (model, ids) in enumerate(models):
        os.environ["GARMENT_MODEL_PATH"] = model
        session = new_segmentation_session("garment")
        for img_path, lab_path in ccp_files(ccp, ids):
            classes = table[np.asarray(Image.open(lab_path))]
            family = dominant_family(classes)
            pick = segmentation_maps(session, load_image_file(img_path).rgb)[1]  # the maps the family is picked on
            rows["features"].append(map_features(pick))
            rows["top"].append(family == PRODUCT_FAMILIES[0])
            rows["weight"].append(float(np.isin(classes, family).mean()))
            rows["ids"].append(int(img_path.stem))
            rows["group"].append(group)
        print(f"{model}: {len(rows['ids'])} photos so far", flush=True)
    return {k: np.array(v) for k, v in rows.items()}


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1e-2, steps: int = 50) -> np.ndarray:
    """Weighted, lightly L2-regularised logistic regression by Newton steps; returns [bias, coefficients…]."""
    xb = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(xb.shape[1])
    w = w / w.mean()
    for _ in range(steps):
        p = 1 / (1 + np.exp(-xb @ beta))
        grad = xb.T @ (w * (p - y)) + l2 * np.r_[0, beta[1:]]
        hess = (xb * (w * p * (1 - p))[:, None]).T @ xb + l2 * np.diag(np.r_[0, np.ones(len(beta) - 1)])
        beta -= np.linalg.solve(hess, grad)
    return beta


def fit_threshold(score: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """The cut on ``score`` (top family when score ≥ cut) that keeps the most weight right; midpoints only."""
    s = np.sort(np.unique(score))
    cuts = np.r_[s[0] - 1, (s[1:] + s[:-1]) / 2, s[-1] + 1]
    right = [(w * ((score >= c) == y)).sum() for c in cuts]
    best = np.flatnonzero(np.isclose(right, max(right)))
    return float(cuts[best[np.argmin(np.abs(cuts[best]))]])  # of equal cuts, the one nearest the shipped 0


#: Candidate rules: name → (fit(x, y, w) → parameters, decide(x, parameters) → top family?). ``x`` = rule_inputs.
RULES = {
    "argmax pixels (shipped)": (lambda x, y, w: None, lambda x, p: x[:, 0] >= 0),
    "probability mass": (lambda x, y, w: None, lambda x, p: x[:, 1] >= 0),
    "argmax pixels, fitted cut": (lambda x, y, w: fit_threshold(x[:, 0], y, w), lambda x, p: x[:, 0] >= p),
    "logistic, 4 inputs": (fit_logistic, lambda x, p: p[0] + x @ p[1:] >= 0),
}


def score(decided: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[int, float]:
    """(photos picked right, share of the labelled product weight picked right)."""
    right = decided == y
    return int(right.sum()), float((w * right).sum() / w.sum())


def compare(oof: dict[str, np.ndarray], val: dict[str, np.ndarray] | None) -> None:
    """Leave-one-fold-out on the out-of-fold photos; then each rule fitted on all of them, on ``val``."""
    x, y, w, g = rule_inputs(oof["features"]), oof["top"].astype(bool), oof["weight"], oof["group"]
    print(f"{len(y)} out-of-fold photos, {int(y.sum())} labelled upper+one-piece")
    for name, (fit, decide) in RULES.items():
        decided = np.zeros(len(y), dtype=bool)
        for k in np.unique(g):
            params = fit(x[g != k], y[g != k], w[g != k])
            decided[g == k] = decide(x[g == k], params)
        n, share = score(decided, y, w)
        params = fit(x, y, w)
        line = f"{name:28s} leave-one-fold-out {n}/{len(y)} right, weight right {share:.4f}"
        if val is not None:
            xv, yv, wv = rule_inputs(val["features"]), val["top"].astype(bool), val["weight"]
            nv, sv = score(decide(xv, params), yv, wv)
            line += f" | validation {nv}/{len(yv)}, weight right {sv:.4f}"
        print(line + f" | fitted on all: {np.round(params, 4).tolist() if params is not None else '-'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    feats = sub.add_parser("features", help="run models over CCP photos and save what the rules need")
    feats.add_argument("--ccp", type=Path, default=Path("../shared/datasets/ccp"))
    feats.add_argument("--out", type=Path, required=True)
    feats.add_argument("--fold-models", nargs="+", default=[], metavar="K/N=MODEL.onnx",
                       help="fold models, each run on its held-out training photos")
    feats.add_argument("--val", action="store_true", help="the garment model (GARMENT_MODEL_PATH or shipped) on "
                       "the validation photos")
    fit = sub.add_parser("fit", help="compare the rules")
    fit.add_argument("--oof", type=Path, required=True)
    fit.add_argument("--val", type=Path)
    args = ap.parse_args()
    if args.command == "features":
        models = []
        for spec in args.fold_models:
            fold, model = spec.split("=", 1)
            k, n = (int(v) for v in fold.split("/"))
            models.append((model, fold_ids(k, n)[1]))
        if args.val:
            from garment_search.segmentation.sessions import GARMENT_MODEL_FILE
            models.append((os.environ.get("GARMENT_MODEL_PATH", str(GARMENT_MODEL_FILE)), list(VAL_IDS)))
        if not models:
            ap.error("name --fold-models or --val")
        np.savez(args.out, **collect(models, args.ccp))
        print(f"wrote {args.out}")
    else:
        load = lambda p: dict(np.load(p)) if p else None  # noqa: E731
        compare(load(args.oof), load(args.val))


if __name__ == "__main__":
    main()
