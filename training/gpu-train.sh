#!/usr/bin/env bash
# The GPU profile of the recipe on one CUDA machine, inside a fixed wall-clock budget:
# teacher, SceneCLIP (for the CLIP loss), the teacher's samples of stored noise (and the removal
# pairs, with --removal), then the PG-SB and fixed-κ students at once (two processes sharing the
# GPU), then the evaluation. Writes the finished weights (students without their LoRA teacher and
# optimiser state), the evaluation and the logs to OUT. Needs python3 with PyTorch (CUDA), NumPy and Pillow.
#
#   training/gpu-train.sh WORK OUT [TEACHER_SECONDS] [STUDENT_SECONDS] [-- RECIPE_OPTIONS...]
#
# RECIPE_OPTIONS go to every stage, e.g. `-- --removal-weight 2` for the removal pairs at weight 2.
# WORK may hold autoencoder.pt (reused) and teacher.pt (used when the teacher stage fails).
# Then, on the CPU machine: copy OUT's .pt files into .cache/training-gpu/ and run
#   npm run train:default -- --profile gpu --work .cache/training-gpu [the same recipe options]
# which skips the finished stages, evaluates and exports the bundle.
#
# GPU_TRAIN_DRY_RUN=1 runs the same steps on the CPU with --quick (a few steps per stage, one
# worker per stage), to try the script before spending device time on it. PYTHON names the
# interpreter (default python3).
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
work=$(realpath -m "$1"); out=$(realpath -m "$2"); shift 2
teacher_s=160; student_s=230
if [ $# -gt 0 ] && [ "$1" != "--" ]; then teacher_s=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then student_s=$1; shift; fi
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] || { echo "gpu-train.sh: expected -- before the recipe options, got $1" >&2; exit 2; }
  shift
fi
recipe=("$@")
python=${PYTHON:-python3}
logs="$work/logs"
mkdir -p "$work" "$out" "$logs"
# OUT gets at most 8 files back from a lent machine: one combined log, the weights, the evaluation.
trap 'cat "$logs"/*.log >"$out/train.log" 2>/dev/null' EXIT
export PYTHONUNBUFFERED=1
cd "$here"
if [ "${GPU_TRAIN_DRY_RUN:-0}" = 1 ]; then
  where=(--device cpu --profile cpu --quick --threads 1); many=1; few=1
else
  where=(--device cuda --profile gpu --threads 4); many=13; few=3
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
fi
train() { "$python" -m snoopi_train "${where[@]}" --work "$work" --results "$work/results" "${recipe[@]}" "$@"; }
started=$(date +%s)

fallback=""
[ -f "$work/teacher.pt" ] && { mv "$work/teacher.pt" "$work/teacher-fallback.pt"; fallback="$work/teacher-fallback.pt"; }
train --until teacher --budget "teacher=$teacher_s" --workers "$many" >"$logs/1-teacher.log" 2>&1
tail -n 4 "$logs/1-teacher.log"
if [ -f "$work/teacher.pt" ]; then
  cp "$work/teacher.pt" "$out/teacher.pt"
elif [ -n "$fallback" ]; then
  echo "teacher stage failed: the students distil the carried teacher"; cp "$fallback" "$work/teacher.pt"
else
  echo "teacher stage failed and no teacher to fall back on"; exit 1
fi
echo "teacher stage ended after $(( $(date +%s) - started )) s"
train --until scene_clip --workers "$many" >"$logs/2-scene_clip.log" 2>&1 || { tail -n 20 "$logs/2-scene_clip.log"; exit 1; }
tail -n 1 "$logs/2-scene_clip.log"
cp "$work/scene_clip.pt" "$out/"
# Made once here: two student processes would each make (and write) them.
train --until pairs >"$logs/3-pairs.log" 2>&1 || { tail -n 20 "$logs/3-pairs.log"; exit 1; }
tail -n 2 "$logs/3-pairs.log"

train --only pgsb --budget "pgsb=$student_s" --workers "$few" >"$logs/4-pgsb.log" 2>&1 &
train --only swiftbrush --budget "swiftbrush=$student_s" --workers "$few" >"$logs/5-swiftbrush.log" 2>&1 &
wait
tail -n 3 "$logs/4-pgsb.log" "$logs/5-swiftbrush.log"
echo "students ended after $(( $(date +%s) - started )) s"
for name in pgsb swiftbrush; do
  "$python" - "$work/$name.pt" "$out/$name.pt" <<'PY' || echo "no finished $name"
import sys, torch
state = torch.load(sys.argv[1], map_location="cpu")
torch.save({k: state[k] for k in ("step", "unet", "curve", "settings")}, sys.argv[2])
PY
  # The slim final counts as finished: the evaluation below must not extend a budget-shortened student.
  [ -f "$out/$name.pt" ] && cp "$out/$name.pt" "$work/$name.pt"
done

train --until evaluate >"$logs/6-evaluate.log" 2>&1
grep '^\[evaluate\]' "$logs/6-evaluate.log"; tail -n 2 "$logs/6-evaluate.log"
cp "$work/evaluation.json" "$out/" 2>/dev/null
echo "all done after $(( $(date +%s) - started )) s"
