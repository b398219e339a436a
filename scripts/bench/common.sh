# shellcheck shell=bash
# Helpers more than one benchmark uses. Sourced by bench.sh.

# Users with status "ok" in OUT's manifest.
ok_lines() {
  local count
  count=$(grep -c '"status":"ok"' "$1/manifest.jsonl" 2>/dev/null) || true
  echo "${count:-0}"
}

# A Python that has Pillow (Debian's python3-pil serves /usr/bin/python3, which may not be the
# python3 first on PATH, e.g. under pyenv); empty when none has it.
pillow_python() {
  local py
  for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import PIL' 2>/dev/null; then
      echo "$py"
      return
    fi
  done
}
