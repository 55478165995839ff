"""The measuring half of scripts/bench/exec, run inside `credtray exec`: 100 warm requests to
the endpoint (a new connection each, as botocore's fetcher makes them), then the same client
against a server in this process answering the same bytes, for the client's own share."""
import http.client
import os
import statistics
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

N = 100
url = urllib.parse.urlsplit(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'])
token = os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']


def one(host, port, path):
    t = time.perf_counter()
    c = http.client.HTTPConnection(host, port)
    c.request('GET', path, headers={'Authorization': token})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, (r.status, body)
    return (time.perf_counter() - t) * 1000, body


def series(host, port, path):
    one(host, port, path)  # warm: the first request may wait on nothing, but count none of it
    return sorted(one(host, port, path)[0] for _ in range(N))


def p95(xs):
    return xs[int(round(0.95 * (len(xs) - 1)))]


served = series(url.hostname, url.port, url.path)
body = one(url.hostname, url.port, url.path)[1]


class Same(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(('127.0.0.1', 0), Same)
threading.Thread(target=server.serve_forever, daemon=True).start()
baseline = series('127.0.0.1', server.server_address[1], '/')
print(f'credtray exec endpoint, warm: p50 {statistics.median(served):.3f} ms, p95 {p95(served):.3f} ms over {N} '
      f'(a Python http.server answering the same bytes: p50 {statistics.median(baseline):.3f} ms, '
      f'p95 {p95(baseline):.3f} ms)')
