"""A stub STS on 127.0.0.1 whose credentials are short-lived, for refresh tests.

    python3 sts_stub.py SECONDS [--totp-seed SEED] [--log FILE]
                                     # prints "PORT <n>", then serves until killed

GetSessionToken and AssumeRole answer fresh credentials (AccessKeyId ASIASTUB000000000001,
…02, … in order) expiring SECONDS from now; GetCallerIdentity answers a fixed ARN.

With --totp-seed SEED (base32), a GetSessionToken or AssumeRole request whose form body carries
SerialNumber must also carry TokenCode equal to SEED's 6-digit TOTP code (RFC 6238, 30 s) of the
current or the previous window, not accepted before for that SerialNumber; otherwise it is
answered 403 with an AccessDenied "MultiFactorAuthentication failed, invalid MFA one time pass
code." ErrorResponse (and no credentials are used up). Requests without SerialNumber are answered
as without the option.
With --log FILE, one line per GetSessionToken/AssumeRole request is appended to FILE:
"<Action> <SerialNumber or -> <TokenCode or -> accepted|refused".
"""
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from totp import code_for_window, window  # noqa: E402

SECONDS = int(sys.argv[1])
LOCK = threading.Lock()
COUNT = [0]
USED = set()  # (SerialNumber, TokenCode) pairs accepted so far


def option(name):
    args = sys.argv[2:]
    for i, arg in enumerate(args):
        if arg == name:
            if i + 1 >= len(args):
                sys.exit(f'sts_stub.py: {name} needs a value')
            return args[i + 1]
    return None


def check_options():
    args = sys.argv[2:]
    while args:
        if args[0] not in ('--totp-seed', '--log') or len(args) < 2:
            sys.exit('usage: sts_stub.py SECONDS [--totp-seed SEED] [--log FILE]')
        args = args[2:]


check_options()
TOTP_SEED = option('--totp-seed')
LOG = option('--log')
MFA_REFUSED = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
               b'<Code>AccessDenied</Code><Message>MultiFactorAuthentication failed, invalid MFA one time '
               b'pass code. </Message></Error><RequestId>stub</RequestId></ErrorResponse>')


def mfa_ok(serial, token):
    """Whether a request carrying SerialNumber `serial` and TokenCode `token` passes (and then
    marks the code used). Called with LOCK held."""
    if TOTP_SEED is None or serial is None:
        return True
    now = window()
    if token is None or token not in (code_for_window(TOTP_SEED, now), code_for_window(TOTP_SEED, now - 1)):
        return False
    if (serial, token) in USED:
        return False
    USED.add((serial, token))
    return True


def check_and_log(action, form):
    serial = form.get('SerialNumber', [None])[0]
    token = form.get('TokenCode', [None])[0]
    with LOCK:
        ok = mfa_ok(serial, token)
        if LOG is not None:
            with open(LOG, 'a') as f:
                f.write(f'{action} {serial or "-"} {token or "-"} {"accepted" if ok else "refused"}\n')
                f.flush()
    return ok


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
        form = parse_qs(body)
        action = form.get('Action', [''])[0]
        ns = 'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"'
        if action in ('GetSessionToken', 'AssumeRole') and not check_and_log(action, form):
            self.send_response(403)
            self.send_header('Content-Type', 'text/xml')
            self.send_header('Content-Length', str(len(MFA_REFUSED)))
            self.end_headers()
            self.wfile.write(MFA_REFUSED)
            return
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
