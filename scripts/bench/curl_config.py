"""bench.sh downloads: a curl --config file fetching the same N images pixelmill fetched.

Usage: curl_config.py WORK N PORT (writes WORK/curl.cfg; the files go to WORK/curl/)
"""
import sys
work, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(f"{work}/curl.cfg", "w") as f:
    for i in range(n):
        f.write(f'url = "http://127.0.0.1:{port}/img/{i}.jpg"\noutput = "{work}/curl/{i}.jpg"\n')
