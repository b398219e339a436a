#!/usr/bin/env python3
"""Writes N seed-shaped users as JSONL: {"name": "user<i>", "id": <i>, "image_url": "<base>/<i>.jpg"}.
Usage: gen_users.py N [BASE_URL] > users.jsonl
"""
import sys

n = int(sys.argv[1])
base = sys.argv[2] if len(sys.argv) > 2 else "http://api.example.com/img"
out = sys.stdout
for i in range(n):
    out.write('{"name": "user%d", "id": %d, "image_url": "%s/%d.jpg"}\n' % (i, i, base, i))
