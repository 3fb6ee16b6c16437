#!/usr/bin/env bash
# Embedding trainings side by side on one GPU lease (docs/benchmarks.md, "Embedding on a GPU lease"), ranked on
# the packed held-out sets; the best BRING candidates' weights come back (written with int8 matrices, 11.6 MB, and
# split in parts if larger: a lease returns at most 8 files of 16 MiB, 64 MiB in all), with every run's log and
# the ranking. A run is named by its recipe, optionally with ".SEED" (two seeds of one recipe side by side).
#
#   MINUTES=5 OUT=/tmp/out training/embedding/gpu_runs.sh plain plain-seed2 finetune patterns-short.4321
#   COMBO=3 PACK=.devdata/emb12 MINUTES=3 OUT=/tmp/out training/embedding/gpu_runs.sh plain-short.1 plain-short.2 …
#
# Without a HELDOUT pack the first BRING runs come back in the order named (nothing is ranked there).
# Here first: PACK from `python -m training.embedding.pack_lease` (crops, surfaces, pooled captions, the text
# tower's config) and HELDOUT from `python -m training.embedding.heldout pack`; carry .devdata/emb,
# .devdata/heldout and the wheels open_clip needs there (see the README's "GPU lease" notes).
# Back here: `cat OUT/<run>.pt.part-* > <run>.pt`, then `python -m training.embedding.evaluate --weights ...`.
# Recipes are data: the name picks the caption recipe, start and schedule below; every run gets the same
# minutes (--max-minutes fits its epochs after timing the second).
set -uo pipefail
PACK=${PACK:-.devdata/emb}
HELDOUT=${HELDOUT:-.devdata/heldout}
MINUTES=${MINUTES:-5}
BRING=${BRING:-5}
INIT=${INIT:-$PACK/member0.pt}  # finetune's start: `python -m training.embedding.ensemble --extract 0 --out $INIT`
# The pretrained trunk of the `pre-*` recipes: `python -m training.pretrained_backbone --out $BACKBONE` (9 MB)
BACKBONE=${BACKBONE:-$PACK/mobilenetv2.pt}
# The shipped ensemble as a baseline row, when the working tree carries it: at 30 MB it does not fit the 64 MiB
# travel next to a pack (move it out of the tree for the lease call; the proxy numbers in docs/benchmarks.md stand in).
BASELINE=garment-minilm-resnet18x2-mobilenetv2x2=models/garment_minilm_resnet18x2_mobilenetv2x2.pt
[ -f "${BASELINE#*=}" ] || BASELINE=
COMBO=${COMBO:-}           # bring back the members of the best COMBO-member ensemble (heldout combos) instead
EXTRA=${EXTRA:-}           # appended to every run's arguments (e.g. "--limit 64 --epochs 2" for a dry run)
OUT=${OUT:?set OUT to the folder that receives the weights}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PYTHONPATH="$PACK/site${PYTHONPATH:+:$PYTHONPATH}"
PLAIN="--no-pattern-captions --no-second-colour-captions"  # session 1's (shipped) caption recipe
PRE="--backbone $BACKBONE --freeze-blocks 3 --backbone-lr-mult 0.25 --epochs 25"
MOBILE="--model garment-minilm-mobilenetv2" MOBILE176="--model garment-minilm-mobilenetv2-176"  # 176: a pack for it

recipe() {
    case $1 in
        plain)            echo --epochs 100 $PLAIN ;;
        plain-seed2)      echo --epochs 100 --seed 4321 $PLAIN ;;
        plain-short)      echo --epochs 40 $PLAIN ;;
        plain-wide-crops) echo --epochs 100 --min-crop-scale 0.5 $PLAIN ;;
        plain-b256)       echo --epochs 100 --batch 256 --lr 3e-3 $PLAIN ;;
        patterns)         echo --epochs 100 --no-second-colour-captions ;;  # needs a pack with its captions
        patterns-short)   echo --epochs 40 --no-second-colour-captions ;;   # (pack_lease --captions patterns)
        tones-short)      echo --epochs 40 --tone-captions $PLAIN ;;        # (pack_lease --captions tones)
        sleeves-short)    echo --epochs 40 --sleeve-captions $PLAIN ;;      # (pack_lease --captions sleeves)
        sleeves-finetune) echo --epochs 30 --lr 5e-4 --init "$INIT" --sleeve-captions $PLAIN ;;
        finetune)         echo --epochs 30 --lr 5e-4 --init "$INIT" $PLAIN ;;
        pre-short)        echo $MOBILE $PRE $PLAIN ;;                        # pretrained MobileNetV2 member (stop 19)
        pre-sleeves)      echo $MOBILE $PRE --sleeve-captions $PLAIN ;;      # (pack_lease --captions sleeves)
        # towers reading 176 pixels (stop 24; from a pack of crops stored for them: train --model … -176)
        pre-sleeves-176)  echo $MOBILE176 $PRE --sleeve-captions $PLAIN ;;
        sleeves-short-176) echo --epochs 40 --model garment-minilm-resnet18-176 --sleeve-captions $PLAIN ;;
        *) echo "unknown recipe $1" >&2; return 1 ;;
    esac
}

train() {
    local name=$1 extra
    extra=$(recipe "${name%%.*}") || return 1
    [[ $name == *.* ]] && extra="$extra --seed ${name#*.}"
    mkdir -p "/tmp/runs/$name"
    cp "$PACK"/*.npz "$PACK"/*.pt "/tmp/runs/$name/"
    # shellcheck disable=SC2086  # the recipe's words are separate arguments
    timeout $(( ${MINUTES%.*} * 60 + 150 )) "$PY" -m training.embedding.train --run "/tmp/runs/$name" \
        --out "/tmp/runs/$name/model.pt" --threads 2 --save-every 100000 --max-minutes "$MINUTES" --int8 $extra $EXTRA \
        >"/tmp/runs/$name/log.txt" 2>&1
    echo "$name exited $?: $(grep -E '^(fitted|wrote)' "/tmp/runs/$name/log.txt" | tr '\n' ' ')"
}

[ $# -gt 0 ] || { echo "name one or more recipes" >&2; exit 2; }
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
for name in "$@"; do train "$name" & done
wait
for name in "$@"; do echo "== $name"; grep -v -i warn "/tmp/runs/$name/log.txt" | tail -n 4; done >"$OUT/logs.txt"
cat "$OUT/logs.txt"
weights=()
for name in "$@"; do [ -f "/tmp/runs/$name/model.pt" ] && weights+=("/tmp/runs/$name/model.pt"); done
if [ ! -d "$HELDOUT" ]; then
    # No held-out pack carried (it takes ~27 min to build here): the first BRING runs come back in the order named,
    # the rest stay in /tmp/runs/<run>/model.pt for a quick second call, and all are measured back here.
    picks=$(printf '%s\n' "${weights[@]:0:$BRING}")
elif [ -n "$COMBO" ]; then
    # Every COMBO-member ensemble of the runs, measured on the pack as served; the best one's members come back.
    "$PY" -m training.embedding.heldout combos --pack "$HELDOUT" --members "$COMBO" --top 5 --json "$OUT/combos.json" \
        --weights "${weights[@]}" 2>&1 | grep '^{' | tee "$OUT/combos.txt"
    picks=$("$PY" -c "import json, sys; print('\n'.join(json.load(open(sys.argv[1]))[0]['members']))" "$OUT/combos.json")
else
    "$PY" -m training.embedding.heldout rank --pack "$HELDOUT" --json "$OUT/rank.json" \
        --weights ${BASELINE:+"$BASELINE"} "${weights[@]}" 2>&1 | grep '^{'
    # The best BRING runs by the mean of the four held-out measures (the shipped weights are the baseline row).
    picks=$("$PY" -c "import json, sys, statistics as s; r = json.load(open(sys.argv[1])); r.pop(sys.argv[3], None)
print('\n'.join(sorted(r, key=lambda w: -s.mean(r[w].values()))[:int(sys.argv[2])]))" "$OUT/rank.json" "$BRING" "$BASELINE")
fi
echo "$picks" | while read -r best; do
    [ -n "$best" ] || continue
    name=$(basename "$(dirname "$best")")
    split -b 12M "$best" "$OUT/$name.pt.part-"
done
ls -la "$OUT"
