#!/usr/bin/env bash
# Garment-model trainings side by side on one GPU lease (docs/benchmarks.md, "GPU runs"): every layer trained at
# the serving resolution (320x240), batch 16, 15% drawn pages. Each run's final.pt (or, if it overran LIMIT, its
# last epoch's checkpoint.pt — export.py reads either) and log land in $OUT/<recipe>/ for export and evaluation.
#
#   EPOCHS=55 LIMIT=500 OUT=/tmp/out training/segmentation/gpu_runs.sh continued scratch-weighted
#   EPOCHS=80 MINUTES=6 LIMIT=480 OUT=/tmp/out training/segmentation/gpu_runs.sh continued.384x288 continued
#
# Recipes are data: the name picks the starting weights, learning rates and class weights below; a suffix
# .HEIGHTxWIDTH trains at that input size instead of the serving one (the export records it, and serving reads
# photos at the size the model was trained at). MINUTES (optional) fits each run's epochs into that many minutes
# of training (--max-minutes), so runs of different sizes all finish their schedule inside LIMIT. INIT is the
# garment model the "continued" recipes start from: the shipped one (v6 was v3 continued; v3 is restored by
# `git show 9e70a5b:models/garment_u2netp.onnx > /tmp/v3.onnx`).
# FOLDS=N trains each recipe N times, once per cross-validation fold of the training photos (train.py --fold),
# into $OUT/<recipe>-fold<K>of<N>/: out-of-fold models for fitting the product pick (family_pick.py).
# On a lease (64 MiB travel): CCP=.devdata/ccp from `python -m training.segmentation.shrink_ccp`, and
# U2NETP=.devdata/models/u2netp.onnx, a copy of models/.cache/u2netp.onnx; carry .devdata. The recipe
# continued-flatlays also trains on FLATLAYS (docs/benchmarks.md, "A lone garment's group"): judge it with
# `evaluate --clothing` as well as the CCP rows.
set -uo pipefail
CCP=${CCP:-../shared/datasets/ccp}
U2NETP=${U2NETP:-models/.cache/u2netp.onnx}
INIT=${INIT:-models/garment_u2netp.onnx}
FLATLAYS=${FLATLAYS:-.devdata/flatlays}   # clothing-small single garments (python -m training.segmentation.flat_lays)
EPOCHS=${EPOCHS:-55}
LIMIT=${LIMIT:-500}        # seconds each run may take, loading included
MINUTES=${MINUTES:-}       # fit each run's epochs into this many minutes of training (empty: run EPOCHS)
FOLDS=${FOLDS:-}           # train each recipe once per cross-validation fold (empty: once, on all training photos)
WORKERS=${WORKERS:-4}      # loader processes per run (3 runs x 4 + 3 on a 16-core machine)
OUT=${OUT:?set OUT to the folder that receives the weights}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

recipe() {
    case $1 in
        scratch-weighted)      echo --lr 4e-4 --head-lr-mult 5 --class-weights 1,1,1.3,1.7 ;;
        scratch-plain)         echo --lr 4e-4 --head-lr-mult 5 --class-weights 1,1,1,1 ;;
        scratch-family)        echo --lr 4e-4 --head-lr-mult 5 --class-weights 1,1,1.3,1.7 --family-loss-weight 1 ;;
        continued)             echo --init "$INIT" --lr 1.5e-4 --head-lr-mult 3 --class-weights 1,1,1.3,1.7 ;;
        continued-fast)        echo --init "$INIT" --lr 3e-4 --head-lr-mult 3 --class-weights 1,1,1.3,1.7 ;;
        continued-onepiece)    echo --init "$INIT" --lr 1.5e-4 --head-lr-mult 3 --class-weights 1,1,1.3,2.5 ;;
        continued-heads)       echo --init "$INIT" --lr 1.5e-4 --head-lr-mult 3 --class-weights 1,1,1.3,1.7 \
                                    --head-covering-weight 4 ;;
        continued-flatlays)    echo --init "$INIT" --lr 1.5e-4 --head-lr-mult 3 --class-weights 1,1,1.3,1.7 \
                                    --extra-ccp "$FLATLAYS" ;;
        *) echo "unknown recipe $1" >&2; return 1 ;;
    esac
}

train() {  # train RECIPE [FOLD]
    local recipe_name=$1 fold=${2:-} name=$1 extra size=320x240
    case $recipe_name in *.*x*) size=${recipe_name##*.} ;; esac
    extra=$(recipe "${recipe_name%.*x*}") || return 1
    [ -n "$MINUTES" ] && extra="$extra --max-minutes $MINUTES"
    [ -n "$fold" ] && { extra="$extra --fold $fold/$FOLDS"; name="$recipe_name-fold${fold}of$FOLDS"; }
    mkdir -p "$OUT/$name"
    # shellcheck disable=SC2086  # the recipe's words are separate arguments
    timeout "$LIMIT" "$PY" -m training.segmentation.train --run "/tmp/runs/$name" --ccp "$CCP" --u2netp "$U2NETP" \
        --cache-height 480 --height "${size%x*}" --width "${size#*x}" --batch 16 --train-stage1 --workers "$WORKERS" \
        --epochs "$EPOCHS" --save-every 100000 --negative-share 0.15 --threads 2 --val-every 10 $extra \
        >"$OUT/$name/log.txt" 2>&1
    local rc=$?
    cp "/tmp/runs/$name/final.pt" "$OUT/$name/" 2>/dev/null || cp "/tmp/runs/$name/checkpoint.pt" "$OUT/$name/"
    echo "$name exited $rc"; tail -2 "$OUT/$name/log.txt"
}

[ $# -gt 0 ] || { echo "name one or more recipes" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
for name in "$@"; do
    if [ -n "$FOLDS" ]; then
        for fold in $(seq "$FOLDS"); do train "$name" "$fold" & done
    else
        train "$name" &
    fi
done
wait
grep -H "validation" "$OUT"/*/log.txt | tail -n 12
