#!/usr/bin/env bash
# An HTTPS front, HTTP/2 and HTTP/1.1 (ALPN), for the image API fixture: nginx (Debian's
# nginx-light) on 127.0.0.1, proxying to the fixture's port over keep-alive connections, with a
# certificate from a CA made here for the occasion. The HTTP/2 benchmark (bench.sh http2) and its
# test use it; pixelmill trusts the CA with --ca-file DIR/ca.pem.
# Usage: scripts/tls_front.sh UPSTREAM_PORT DIR
# Writes DIR/ca.pem, then DIR/port once listening, and becomes nginx in the foreground (the
# caller stops it with SIGTERM; nothing is left behind but DIR).
set -euo pipefail
upstream=${1:?usage: tls_front.sh UPSTREAM_PORT DIR}
dir=${2:?usage: tls_front.sh UPSTREAM_PORT DIR}
mkdir -p "$dir/tmp"
dir=$(cd "$dir" && pwd)
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "tls_front.sh: nginx not found (scripts/setup.sh installs nginx-light)" >&2; exit 2; }

# A CA and a server certificate for 127.0.0.1, both short-lived, P-256 keys.
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$dir/ca.key" -out "$dir/ca.pem.tmp" -days 2 \
  -subj /CN=pixelmill-test-ca 2>/dev/null
openssl req "${ec[@]}" -keyout "$dir/server.key" -out "$dir/server.csr" \
  -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem.tmp" -CAkey "$dir/ca.key" \
  -CAcreateserial -out "$dir/server.pem" -days 2 -extfile "$dir/server.ext" 2>/dev/null
mv "$dir/ca.pem.tmp" "$dir/ca.pem"

# nginx cannot bind port 0 and report it: take a free port from the kernel, then hand it over.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/nginx.conf" <<CONF
master_process off;  # one process: a SIGKILL leaves nothing behind
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  upstream api {
    server 127.0.0.1:$upstream;
    keepalive 512;
  }
  server {
    listen 127.0.0.1:$port ssl http2;
    ssl_certificate $dir/server.pem;
    ssl_certificate_key $dir/server.key;
    keepalive_requests 1000000;
    http2_max_concurrent_streams 512;
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
CONF
# The port is announced once nginx answers on it.
(
  for _ in $(seq 200); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
      echo "$port" >"$dir/port.tmp" && mv "$dir/port.tmp" "$dir/port"
      exit 0
    fi
    sleep 0.05
  done
) &
exec "$nginx" -p "$dir" -c "$dir/nginx.conf"
