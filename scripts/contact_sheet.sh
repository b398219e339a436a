#!/usr/bin/env bash
# Draws a contact sheet with the vips command line (Debian's libvips-tools, installed by
# scripts/setup.sh): one cell per pair, the input beside its output, each scaled to fit a
# 240x240 box (EXIF orientation ignored, so a sideways input shows sideways), with the pair's
# caption and both stored sizes underneath; ACROSS pairs a row, on white. Pictures with an
# alpha band are flattened on white.
# Usage: contact_sheet.sh SHEET.png ACROSS CAPTION INPUT OUTPUT [CAPTION INPUT OUTPUT ...]
set -euo pipefail
if (($# < 5 || ($# - 2) % 3 != 0)); then
  echo "usage: $0 SHEET.png ACROSS CAPTION INPUT OUTPUT [CAPTION INPUT OUTPUT ...]" >&2
  exit 2
fi
sheet=$1
across=$2
shift 2
# lib.sh without moving to the repository root: SHEET and the pictures may be relative paths.
. "$(dirname "$0")/lib.sh"
temp_dir work sheet "${TMPDIR:-/tmp}"

# Scales FILE into the 240x240 box as OUT.v: 3 bands, or 1 for a grey picture.
fit() {
  local file=$1 out=$2 bands=$3
  vips thumbnail "$file" "$out.v" 240 --height 240 --no-rotate
  if ((bands == 2 || bands == 4)); then
    vips flatten "$out.v" "$out-flat.v" --background 255
    vips cast "$out-flat.v" "$out.v" uchar
  fi
}

# One cell: the input and the output side by side, the caption underneath.
make_cell() {
  local cell=$1 caption=$2 input=$3 output=$4 header sizes=() bands=()
  # "FILE: 512x512 uchar, 3 bands, srgb, jpegload", one line per file.
  while IFS= read -r header; do
    sizes+=("$(sed -E 's/.*: ([0-9]+x[0-9]+) .*/\1/' <<<"$header")")
    bands+=("$(sed -E 's/.* ([0-9]+) bands?,.*/\1/' <<<"$header")")
  done < <(vipsheader "$input" "$output")
  fit "$input" "$cell-in" "${bands[0]}"
  fit "$output" "$cell-out" "${bands[1]}"
  vips join "$cell-in.v" "$cell-out.v" "$cell-pair.v" horizontal --expand --shim 8 \
    --background 255 --align centre
  # vips text draws white ink on black: inverted, black on white.
  vips text "$cell-ink.v" "$caption: ${sizes[0]} → ${sizes[1]}" --dpi 90 --width 488
  vips invert "$cell-ink.v" "$cell-caption.v"
  vips join "$cell-pair.v" "$cell-caption.v" "$cell.v" vertical --expand --shim 6 \
    --background 255 --align centre
}

# The cells are made side by side: each vips command costs more to start than to run.
cells=()
pids=()
n=0
while (($#)); do
  make_cell "$work/$n" "$1" "$2" "$3" &
  pids+=($!)
  cells+=("$work/$n.v")
  shift 3
  n=$((n + 1))
done
for pid in "${pids[@]}"; do wait "$pid"; done
vips arrayjoin "${cells[*]}" "$sheet" --across "$across" --shim 24 --background 255 \
  --halign centre --hspacing 488 --vspacing 290
