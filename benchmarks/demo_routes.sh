#!/usr/bin/env bash
# Every route to the same table gives the same file: run `extract` and the stage commands
# (segment -> themes -> map -> evaluate) on the demo corpus with a fresh cache, then compare the
# tables both routes write.  Usage: benchmarks/demo_routes.sh [OUT]   (default results/demo-routes)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results/demo-routes}
rm -rf "$OUT"; mkdir -p "$OUT"
P=.venv/bin/psythemes
D=corpora/psychosomatic-demo
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PSYTHEMES_CACHE="$OUT/.cache"
$P extract -q $D/transcripts --metadata $D/metadata.csv --codebook psychosomatic --gold $D/codes/reference.csv --out "$OUT/extract"
# extract sets interviewer turns and backchannels aside by default; the segment command keeps them unless asked
$P segment -q $D/transcripts --metadata $D/metadata.csv --drop-interviewer --backchannels drop --out "$OUT/seg"
$P themes -q "$OUT/seg/segments.csv" --out "$OUT/themes"
$P map -q "$OUT/seg/segments.csv" --codebook psychosomatic --themes "$OUT/themes" --out "$OUT/map"
$P evaluate -q --pred "$OUT/map/codes.csv" --gold $D/codes/reference.csv --segments "$OUT/seg/segments.csv" \
  --codes alternation,awareness,alliance,common_ground --out "$OUT/eval"  # codebook order, as extract
status=0
for pair in seg/segments.csv:extract/segments.csv themes/themes.csv:extract/themes.csv \
            themes/segment_themes.csv:extract/segment_themes.csv themes/theme_quotes.csv:extract/theme_quotes.csv \
            map/codes.csv:extract/codes.csv map/theme_codes.csv:extract/theme_codes.csv \
            eval/agreement.csv:extract/agreement.csv eval/units.csv:extract/units.csv \
            eval/disagreements.csv:extract/disagreements.csv; do
  a=${pair%%:*}; b=${pair##*:}
  if cmp -s "$OUT/$a" "$OUT/$b"; then echo "same      $a = $b"; else echo "DIFFERENT $a != $b"; status=1; fi
done
exit $status
