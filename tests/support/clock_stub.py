"""A stub of STS's clock on 127.0.0.1: every GET answers 200 with a `Date` header OFFSET seconds
away from this machine's clock, as a far-off STS would see a skewed client.

    python3 clock_stub.py OFFSET     # prints "PORT <n>", then serves until killed
"""
import email.utils
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OFFSET = int(sys.argv[1])


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(time.time() + OFFSET, usegmt=True)

    def do_GET(self):
        body = b'<ErrorResponse/>'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(f'PORT {server.server_address[1]}', flush=True)
server.serve_forever()
