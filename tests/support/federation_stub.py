"""A stub of the AWS federation endpoint (getSigninToken) on 127.0.0.1.

    python3 federation_stub.py LOG_FILE     # prints "PORT <n>", then serves until killed

GET /federation?Action=getSigninToken&Session=<JSON> checks that the Session JSON has a
non-empty sessionId, sessionKey and sessionToken, answers {"SigninToken": <random>} and logs
"SESSION <sessionId>" and "TOKEN <token>"; anything else is a 400 and logged as "BAD …".
"""
import json
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOG = open(sys.argv[1], 'a', buffering=1)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            session = json.loads(q.get('Session', ''))
        except ValueError:
            session = {}
        keys = ('sessionId', 'sessionKey', 'sessionToken')
        if url.path != '/federation' or q.get('Action') != 'getSigninToken' or not all(session.get(k) for k in keys):
            LOG.write(f'BAD {url.path} {sorted(q)} {sorted(session)}\n')
            self.answer(400, {'error': 'bad request'})
            return
        token = secrets.token_urlsafe(48)
        LOG.write(f"SESSION {session['sessionId']}\nTOKEN {token}\n")
        self.answer(200, {'SigninToken': token})


server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(f'PORT {server.server_address[1]}', flush=True)
server.serve_forever()
