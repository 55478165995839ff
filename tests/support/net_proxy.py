"""A forward HTTP proxy on 127.0.0.1 for credtray's network tests: it tunnels https targets
(CONNECT host:port) and forwards plain http:// targets (absolute-URI requests), can require Basic
authentication, and records every request it was asked to proxy.

    python3 net_proxy.py        # then one JSON line on stdin: {"user": "u", "password": "p"} or {}

The credentials come on standard input, never in argv or the environment, because tests scan
process arguments and logs for secrets. Once it listens it prints one line on stdout:

    PORT <n>

and serves until its standard input reaches end of file (the test that started it is gone or done
with it) or it gets SIGTERM.

With credentials set, a request without a `Proxy-Authorization: Basic ...` header carrying exactly
that user and password gets `407 Proxy Authentication Required` with
`Proxy-Authenticate: Basic realm="test"`, and the connection is closed.

Requests addressed to the proxy itself (origin-form, not proxied, never logged):
  GET  /_proxy/log         {"requests": [{"method", "target": "host:port", "credentials": bool
                           (a Proxy-Authorization header came), "authorized": bool (no
                           credentials required, or the right ones came), "status": int}]}
  POST /_proxy/clear_log   empties the log

The log never holds a path, a query or a header value: a proxied URL may carry a secret (the
console's SigninToken), and the Proxy-Authorization header is one.

Status of a proxied request: 200 for an established tunnel, the upstream's status for a forwarded
request, 407 as above, 502 when the target can't be reached, 400 for a request it can't read.
Python standard library only; one thread per connection.
"""
import base64
import binascii
import hmac
import json
import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Headers that describe one hop, not the request (RFC 9110 section 7.6.1), plus the proxy's own.
HOP_BY_HOP = {
    'connection', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'proxy-authenticate',
    'te', 'trailer', 'upgrade',
}
CONNECT_TIMEOUT = 10

log = []
log_lock = threading.Lock()
credentials = None  # (user, password) as bytes, or None when no authentication is required


def record(method, target, offered, authorized, status):
    with log_lock:
        log.append({'method': method, 'target': target, 'credentials': offered,
                    'authorized': authorized, 'status': status})


def split_host_port(authority, default_port):
    """'host:port', '[v6]:port' or 'host' -> (host, port); ValueError when malformed."""
    if authority.startswith('['):
        host, _, rest = authority[1:].partition(']')
        port = rest[1:] if rest.startswith(':') else ''
    elif authority.count(':') == 1:
        host, port = authority.split(':')
    else:
        host, port = authority, ''
    if not host:
        raise ValueError(authority)
    return host, int(port) if port else default_port


def pipe(source_read, sink, done):
    """Copies until `source_read` gives end of file or fails, then closes both ways (`done`)."""
    try:
        while True:
            data = source_read(65536)
            if not data:
                break
            sink.sendall(data)
    except (OSError, ValueError):
        pass
    done()


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def authorization(self):
        """(a Proxy-Authorization header came, it is the right one or none is needed)."""
        header = self.headers.get('Proxy-Authorization')
        offered = header is not None
        if credentials is None:
            return offered, True
        scheme, _, value = (header or '').partition(' ')
        if scheme.lower() != 'basic':
            return offered, False
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return offered, False
        user, sep, password = decoded.partition(b':')
        # Both compared in full either way, so a wrong user and a wrong password take as long.
        right_user = hmac.compare_digest(user, credentials[0])
        right_password = hmac.compare_digest(password, credentials[1])
        return offered, bool(sep) and right_user and right_password

    def answer(self, status, body=b'', headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        self.end_headers()
        if body and self.command != 'HEAD':
            self.wfile.write(body)
        self.close_connection = True

    def refuse(self, method, target, offered):
        record(method, target, offered, False, 407)
        self.answer(407, b'proxy authentication required\n',
                    [('Proxy-Authenticate', 'Basic realm="test"'), ('Content-Type', 'text/plain')])

    def tunnel(self):
        target = self.path
        offered, authorized = self.authorization()
        if not authorized:
            return self.refuse('CONNECT', target, offered)
        try:
            host, port = split_host_port(target, 443)
            upstream = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError):
            record('CONNECT', target, offered, True, 502)
            return self.answer(502, b'target unreachable\n')
        upstream.settimeout(None)
        record('CONNECT', target, offered, True, 200)
        self.send_response(200, 'Connection Established')
        self.end_headers()
        self.close_connection = True
        self.relay(upstream)

    def relay(self, upstream):
        client = self.connection
        closed = threading.Event()

        def done():
            if closed.is_set():
                return
            closed.set()
            for s in (upstream, client):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        # The client's bytes are read through rfile: it may already hold some in its buffer.
        back = threading.Thread(target=pipe, args=(upstream.recv, client, done), daemon=True)
        back.start()
        pipe(self.rfile.read1, upstream, done)
        back.join()
        upstream.close()

    def forward(self):
        method = self.command
        url = urlsplit(self.path)
        try:
            host, port = split_host_port(url.netloc.rpartition('@')[2], 80)
        except ValueError:
            return self.answer(400, b'bad target\n')
        target = f'[{host}]:{port}' if ':' in host else f'{host}:{port}'
        offered, authorized = self.authorization()
        if not authorized:
            return self.refuse(method, target, offered)
        try:
            upstream = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        except OSError:
            record(method, target, offered, True, 502)
            return self.answer(502, b'target unreachable\n')
        # One request per connection: the upstream closes after answering, so its answer can be
        # copied through as it comes, whatever its framing.
        path = url.path or '/'
        if url.query:
            path += '?' + url.query
        head = [f'{method} {path} HTTP/1.1']
        head += [f'{k}: {v}' for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        head.append('Connection: close')
        upstream.sendall(('\r\n'.join(head) + '\r\n\r\n').encode('latin-1'))
        length = self.headers.get('Content-Length')
        if length:
            upstream.sendall(self.rfile.read(int(length)))
        elif self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            copy_chunked(self.rfile, upstream)
        answer = upstream.makefile('rb')
        status_line = answer.readline(65537)
        try:
            status = int(status_line.split()[1])
        except (IndexError, ValueError):
            status = 502
        record(method, target, offered, True, status)
        self.close_connection = True
        self.wfile.write(status_line)
        while True:
            line = answer.readline(65537)
            if line in (b'\r\n', b'\n', b''):
                break
            name = line.split(b':', 1)[0].strip().lower().decode('latin-1')
            if name not in HOP_BY_HOP:
                self.wfile.write(line)
        self.wfile.write(b'Connection: close\r\n\r\n')
        while True:
            data = answer.read1(65536)
            if not data:
                break
            self.wfile.write(data)
        answer.close()
        upstream.close()

    def own(self):
        """A request to the proxy itself."""
        if self.command == 'GET' and self.path == '/_proxy/log':
            with log_lock:
                body = json.dumps({'requests': log}).encode()
            return self.answer(200, body, [('Content-Type', 'application/json')])
        if self.command == 'POST' and self.path == '/_proxy/clear_log':
            with log_lock:
                log.clear()
            return self.answer(200, b'{}', [('Content-Type', 'application/json')])
        return self.answer(404, b'not a proxy request\n')

    def handle_one_request(self):
        # Every method goes through here: a proxy doesn't care which ones it carries.
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            if self.command == 'CONNECT':
                self.tunnel()
            elif self.path.startswith('/'):
                self.own()
            elif self.path.lower().startswith('http://'):
                self.forward()
            else:
                self.answer(400, b'only CONNECT and http:// targets are proxied\n')
            self.wfile.flush()
        except (OSError, ValueError):
            self.close_connection = True


def copy_chunked(source, sink):
    """Copies one chunked body, framing included, up to and including its last chunk."""
    while True:
        size_line = source.readline(65537)
        sink.sendall(size_line)
        size = int(size_line.split(b';')[0].strip() or b'0', 16)
        if size == 0:
            while True:  # trailers, then the empty line
                line = source.readline(65537)
                sink.sendall(line)
                if line in (b'\r\n', b'\n', b''):
                    return
        sink.sendall(source.read(size + 2))


def main():
    global credentials
    line = sys.stdin.readline()
    try:
        config = json.loads(line)
        if not isinstance(config, dict):
            raise ValueError('not an object')
        if config:
            credentials = (config['user'].encode(), config['password'].encode())
    except (ValueError, KeyError, AttributeError) as e:
        sys.exit(f'net_proxy.py: the first line on stdin must be {{}} or '
                 f'{{"user": ..., "password": ...}} ({type(e).__name__})')

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    def watch_stdin():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f'PORT {server.server_address[1]}', flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
