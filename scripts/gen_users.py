#!/usr/bin/env python3
"""Writes N seed-shaped users as JSONL on stdout, one a line:
{"name": "user<i>", "id": <i>, "image_url": "<BASE_URL>/<i>.jpg"} for i in 0..N-1.

Example: scripts/gen_users.py 1000 http://127.0.0.1:8080/img > users.jsonl

--shared F --shared-urls K: a fraction F of the users, spread evenly, share K image URLs
<BASE_URL>/<N + k>.jpg (k = 0..K-1, in turn) instead of their own (a default avatar, a team logo).
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
    parser.add_argument("--shared", metavar="F", type=float, default=0.0,
                        help="fraction of the users that share --shared-urls URLs (default 0)")
    parser.add_argument("--shared-urls", metavar="K", type=int, default=20,
                        help="how many URLs the shared users share (default %(default)s)")
    args = parser.parse_args()
    if args.n < 0:
        parser.error("N must be 0 or more, not %d" % args.n)
    if not 0.0 <= args.shared <= 1.0:
        parser.error("--shared must be 0..1, not %g" % args.shared)
    if args.shared_urls < 1:
        parser.error("--shared-urls must be 1 or more, not %d" % args.shared_urls)
    out = sys.stdout
    shared = 0
    for i in range(args.n):
        image = i
        # Evenly spread: user i is shared when floor((i + 1) F) steps past floor(i F).
        if int((i + 1) * args.shared) > int(i * args.shared):
            image = args.n + shared % args.shared_urls
            shared += 1
        out.write('{"name": "user%d", "id": %d, "image_url": "%s/%d.jpg"}\n'
                  % (i, i, args.base_url, image))


if __name__ == "__main__":
    main()
