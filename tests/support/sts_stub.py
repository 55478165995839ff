"""A stub STS on 127.0.0.1 whose credentials are short-lived, for refresh tests.

    python3 sts_stub.py SECONDS      # prints "PORT <n>", then serves until killed

GetSessionToken and AssumeRole answer fresh credentials (AccessKeyId ASIASTUB000000000001,
…02, … in order) expiring SECONDS from now; GetCallerIdentity answers a fixed ARN.
"""
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

SECONDS = int(sys.argv[1])
LOCK = threading.Lock()
COUNT = [0]


def credentials():
    with LOCK:
        COUNT[0] += 1
        n = COUNT[0]
    expiration = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + SECONDS))
    return (f'<Credentials><AccessKeyId>ASIASTUB{n:012d}</AccessKeyId>'
            f'<SecretAccessKey>stubsecret{n}</SecretAccessKey><SessionToken>stubtoken{n}</SessionToken>'
            f'<Expiration>{expiration}</Expiration></Credentials>')


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0)).decode()
        action = parse_qs(body).get('Action', [''])[0]
        ns = 'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"'
        if action in ('GetSessionToken', 'AssumeRole'):
            extra = ('<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/stub/s</Arn>'
                     '<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>') if action == 'AssumeRole' else ''
            xml = f'<{action}Response {ns}><{action}Result>{credentials()}{extra}</{action}Result></{action}Response>'
        elif action == 'GetCallerIdentity':
            xml = (f'<GetCallerIdentityResponse {ns}><GetCallerIdentityResult>'
                   '<Arn>arn:aws:iam::123456789012:user/stub</Arn><UserId>AIDASTUB</UserId>'
                   '<Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>')
        else:
            self.send_response(400)
            self.end_headers()
            return
        data = xml.encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/xml')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(f'PORT {server.server_address[1]}', flush=True)
server.serve_forever()
