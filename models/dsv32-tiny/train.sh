#!/bin/bash
# The default model's training pipeline, exactly as run for models/dsv32-tiny (see MODEL_CARD.md).
# Needs data/corpus (npm run build:corpus) and build/wasm (npm run build:wasm). Overwrites models/dsv32-tiny
# unless OUT is set. Stages with --max-minutes follow the step count their time budget projects (so the
# learning-rate schedule depends on the machine's speed; train_log.json records every step's LR), and two
# stages were stopped after a periodic save (saved_at below waits for that save, then stops the stage).
set -e
cd "$(dirname "$0")/../.."
R=${RUNS:-/tmp/dsv32-runs}  # intermediate stages
OUT=${OUT:-models/dsv32-tiny}
D="--data data/corpus/train.txt"
mkdir -p "$R"
train() { npm run -s dsv32 -- train "$@"; }
# runs a stage in the background until it has written its step-$1 save, then stops it
saved_at() {
  local step=$1 log=$R/stage.log; shift
  train "$@" > "$log" 2>&1 & local pid=$!
  until grep -q "at step $step\$" "$log"; do sleep 1; kill -0 $pid 2>/dev/null || { cat "$log"; return 1; }; done
  pkill -P $pid; wait $pid 2>/dev/null || true
}
T0=$(date +%s)
# 1. dense pretraining → 2. indexer warm-up → 3. sparse: the previous release (prose + single-key passkey windows)
train pretrain --preset dsv32-tiny $D --retrieval 0.35 --retrieval-mode single --threads 1 \
  --seq 256 --batch 8 --steps 2000 --lr 2e-3 --warmup 50 --bias-rate 0.01 --seed 1 --save-every 100 --max-minutes 55 --out $R/pretrain
train indexer-warmup --model $R/pretrain $D --retrieval 0.35 --retrieval-mode single --threads 2 \
  --seq 256 --batch 8 --steps 120 --lr 2e-3 --warmup 10 --seed 2 --max-minutes 5 --out $R/warmup
train sparse --model $R/warmup $D --retrieval 0.35 --retrieval-mode single --threads 2 \
  --seq 256 --batch 8 --steps 300 --lr 5e-4 --warmup 20 --topk 64 --bias-rate 0.01 --seed 3 --max-minutes 14 --dtype bf16 --out $R/v1
# 4.–7. retrieval curriculum (dense attention): copy drills on short windows, then recall drills
train pretrain --model $R/v1 $D --retrieval 0.8 --retrieval-mode drills --threads 1 \
  --seq 32 --batch 32 --steps 4000 --lr 3e-3 --warmup 30 --bias-rate 0.01 --seed 21 --save-every 200 --max-minutes 30 --out $R/drills
train pretrain --model $R/drills $D --retrieval 0.6 --retrieval-mode induction --threads 1 \
  --seq 128 --batch 16 --steps 3000 --lr 1.5e-3 --warmup 20 --bias-rate 0.01 --seed 22 --max-minutes 28 --out $R/induction
saved_at 300 pretrain --model $R/induction $D --retrieval 0.8 --retrieval-mode recall-open --threads 1 \
  --seq 128 --batch 16 --steps 3000 --lr 2e-3 --warmup 30 --bias-rate 0.01 --seed 31 --save-every 100 --max-minutes 30 --out $R/recall-open
saved_at 400 pretrain --model $R/recall-open $D --retrieval 0.9 --retrieval-mode recall-drills --mtp-weight 0 --threads 1 \
  --seq 128 --batch 16 --steps 5000 --lr 3e-3 --warmup 10 --bias-rate 0.01 --seed 33 --save-every 50 --max-minutes 40 --out $R/recall
# 8. prose back in: half prose, the rest recall drills, single keys and episodes, at the training length
train pretrain --model $R/recall $D --retrieval 0.5 --retrieval-mode recall --threads 1 \
  --seq 256 --batch 8 --steps 5000 --lr 1.5e-3 --warmup 20 --bias-rate 0.01 --seed 35 --save-every 50 --max-minutes 36 --out $R/mixed
# 9. indexer warm-up → 10. sparse (top-64 DSA), on the same mixture
train indexer-warmup --model $R/mixed $D --retrieval 0.5 --retrieval-mode recall --threads 2 \
  --seq 256 --batch 8 --steps 150 --lr 2e-3 --warmup 10 --seed 36 --max-minutes 5 --out $R/warmup2
train sparse --model $R/warmup2 $D --retrieval 0.5 --retrieval-mode recall --threads 2 \
  --seq 256 --batch 8 --steps 300 --lr 5e-4 --warmup 20 --topk 64 --bias-rate 0.01 --seed 37 --max-minutes 14 --dtype bf16 --out $OUT
T1=$(date +%s); echo "total wall $((T1-T0)) s"
