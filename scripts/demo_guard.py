"""demo.sh: the address guard's refusals, one a user, from its manifest.

Usage: demo_guard.py MANIFEST.jsonl
"""
import json, sys
for line in open(sys.argv[1]):
    l = json.loads(line)
    print(f"   {l['id']}: {l['error']['code']}: {l['error']['message']}")
