#!/bin/bash
# The default model's training pipeline, exactly as run for models/dsv32-tiny (see MODEL_CARD.md).
# Needs data/corpus (npm run build:corpus) and build/wasm (npm run build:wasm). Overwrites models/dsv32-tiny
# unless OUT is set.
set -e
cd "$(dirname "$0")/../.."
R=${RUNS:-/tmp/dsv32-runs}  # intermediate stages
OUT=${OUT:-models/dsv32-tiny}
mkdir -p "$R"
T0=$(date +%s)
npm run -s dsv32 -- train pretrain --preset dsv32-tiny --data data/corpus/train.txt --retrieval 0.35 --retrieval-mode single --threads 1 \
  --seq 256 --batch 8 --steps 2000 --lr 2e-3 --warmup 50 --bias-rate 0.01 --seed 1 --save-every 100 --max-minutes 55 --out $R/pretrain
T1=$(date +%s); echo "pretrain wall $((T1-T0)) s"
npm run -s dsv32 -- train indexer-warmup --model $R/pretrain --data data/corpus/train.txt --retrieval 0.35 --retrieval-mode single --threads 2 \
  --seq 256 --batch 8 --steps 120 --lr 2e-3 --warmup 10 --seed 2 --max-minutes 5 --out $R/warmup
T2=$(date +%s); echo "indexer-warmup wall $((T2-T1)) s"
npm run -s dsv32 -- train sparse --model $R/warmup --data data/corpus/train.txt --retrieval 0.35 --retrieval-mode single --threads 2 \
  --seq 256 --batch 8 --steps 300 --lr 5e-4 --warmup 20 --topk 64 --bias-rate 0.01 --seed 3 --max-minutes 14 --dtype bf16 --out $OUT
T3=$(date +%s); echo "sparse wall $((T3-T2)) s"
echo "total wall $((T3-T0)) s"
