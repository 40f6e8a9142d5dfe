"""The one loopback address of the local Rekor v2 (scripts/rekor.sh start-v2): what the production
Rekor v2 hosts serve at one base URL, the write API and the C2SP tlog-tiles read API side by side.

rekor-tiles' POSIX server answers only the write API (POST /api/v2/log/entries, /healthz); its
GET /api/v2/checkpoint and /api/v2/tile/... are "not implemented", because the log's tiles are files
that a static web server publishes (nginx in rekor-tiles' posix-compose.yml). This front does both:
  /api/..., /healthz          proxied to the rekor-tiles server (status, body and X-Log-Index kept)
  /checkpoint, /tile/...      the files of its storage directory (tlog-tiles paths only, nothing else)
Usage: rekor-v2-front.py LISTEN_PORT UPSTREAM_PORT STORAGE_DIR
"""
import http.client
import http.server
import os
import re
import sys

LISTEN, UPSTREAM, STORAGE = int(sys.argv[1]), int(sys.argv[2]), os.path.realpath(sys.argv[3])
# tlog-tiles paths: tile/<L>/<N> or tile/entries/<N>, N as x-prefixed 3-digit groups, optional .p/<W>.
TILE = re.compile(r"^/tile/(entries|[0-9]{1,2})/(x[0-9]{3}/)*[0-9]{3}(\.p/[0-9]{1,3})?$")
MAX_BODY = 8 * 1024 * 1024
# Hop-by-hop headers are not forwarded (RFC 9110 7.6.1).
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "expect"}


class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # one line per request on stderr is too much for thousands
        pass

    def reply(self, status, body, ctype="text/plain; charset=utf-8", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def proxy(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            return self.reply(413, b"request body too large\n")
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "host"}
            conn.request(self.command, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            extra = [(k, v) for k, v in r.getheaders() if k.lower() not in HOP | {"content-length", "content-type", "date", "server"}]
            self.reply(r.status, data, r.getheader("Content-Type", "application/octet-stream"), extra)
        except OSError as e:
            self.reply(502, f"rekor-tiles server unreachable: {e}\n".encode())
        finally:
            conn.close()

    def static(self):
        path = self.path.split("?", 1)[0]
        if path != "/checkpoint" and not TILE.match(path):
            return self.reply(404, b"not found\n")
        full = os.path.realpath(os.path.join(STORAGE, path.lstrip("/")))
        if not full.startswith(STORAGE + os.sep):
            return self.reply(404, b"not found\n")
        try:
            with open(full, "rb") as f:
                data = f.read(MAX_BODY + 1)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return self.reply(404, b"not found\n")
        # The checkpoint changes; a tile of a given path never does (partial tiles have their own path).
        cache = "no-cache" if path == "/checkpoint" else "max-age=31536000, immutable"
        self.reply(200, data, "text/plain; charset=utf-8" if path == "/checkpoint" else "application/octet-stream",
                   [("Cache-Control", cache)])

    def do_GET(self):
        if self.path.startswith("/api/") or self.path.startswith("/healthz"):
            return self.proxy()
        return self.static()

    do_HEAD = do_GET

    def do_POST(self):
        if self.path.startswith("/api/"):
            return self.proxy()
        return self.reply(405, b"method not allowed\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


if __name__ == "__main__":
    Server(("127.0.0.1", LISTEN), Front).serve_forever()
