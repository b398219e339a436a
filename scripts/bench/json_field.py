"""Prints the values at dotted paths of a JSON file, separated by spaces.

Usage: json_field.py FILE PATH... (e.g. report.json wall_seconds memory.peak_rss_bytes)
"""
import json
import sys

value = json.load(open(sys.argv[1]))
values = []
for path in sys.argv[2:]:
    v = value
    for key in path.split("."):
        v = v[key]
    values.append(v)
print(*values)
