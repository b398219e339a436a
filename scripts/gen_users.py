#!/usr/bin/env python3
"""Writes N seed-shaped users as JSONL on stdout, one a line:
{"name": "user<i>", "id": <i>, "image_url": "<BASE_URL>/<i>.jpg"} for i in 0..N-1.

Example: scripts/gen_users.py 1000 http://127.0.0.1:8080/img > users.jsonl
"""
import argparse
import sys


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", metavar="N", type=int, help="how many users (0 or more)")
    parser.add_argument("base_url", metavar="BASE_URL", nargs="?",
                        default="http://api.example.com/img",
                        help="the image URLs' prefix (default: %(default)s)")
    args = parser.parse_args()
    if args.n < 0:
        parser.error("N must be 0 or more, not %d" % args.n)
    out = sys.stdout
    for i in range(args.n):
        out.write('{"name": "user%d", "id": %d, "image_url": "%s/%d.jpg"}\n'
                  % (i, i, args.base_url, i))


if __name__ == "__main__":
    main()
