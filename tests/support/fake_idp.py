"""A fake SAML identity provider on 127.0.0.1 for the login window's tests.

    python3 fake_idp.py LOG_FILE      # prints "PORT <n>", then serves until killed

Every page takes the same query, passed along from page to page:
  role, idp   the ARNs the assertion grants (one Role attribute "role,idp")
  duration    its SessionDuration in seconds (absent: none)
  login=1     the IdP wants a login first, unless its `idp_session` cookie is set
  page        how the SAMLResponse is posted: form (document.forms[0].submit()), button
              (a submit button clicked by script), fetch, xhr, iframe (the form page in an
              iframe), hold (a page that never posts and has nothing to type into)
  acs         where it is posted: aws (https://signin.aws.amazon.com/saml), regional,
              gov, cn, adfs (:443) -- the real AWS URLs, which the login must never reach

GET  /start     the login form (login=1 and no cookie) or a redirect to /post
POST /login     sets the cookie (Max-Age=3600), logs LOGIN, redirects to /post
GET  /post      the page that posts the SAMLResponse
GET  /expected  the base64 SAMLResponse those parameters give (the same bytes every time)
GET  /evil      the cross-origin frame of page=crossorigin
GET  /frame     the cross-origin frame of page=frameacs, frametop and frameopen (do=acs, top, open)
GET  /forged    a page posting a forged SAMLResponse, which the frame of page=frameopen opens

The same pages are also served on a second port, another origin, which /post's pages name
themselves.

LOG_FILE gets one line per request ("GET /start", "POST /login", "LOGIN"); any other POST
here would mean a SAMLResponse was posted somewhere it should not be.
"""
import base64
import html
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

ACS = {
    'aws': 'https://signin.aws.amazon.com/saml',
    'regional': 'https://us-east-2.signin.aws.amazon.com/saml',
    'gov': 'https://signin.amazonaws-us-gov.com/saml',
    'cn': 'https://signin.amazonaws.cn/saml',
    'adfs': 'https://signin.aws.amazon.com:443/saml',
}
LOG = open(sys.argv[1], 'a', buffering=1)
LOCK = threading.Lock()


def log(line):
    with LOCK:
        LOG.write(line + '\n')


def assertion(q):
    """The SAMLResponse for these parameters, as moto reads them, padded until its base64 holds
    '+', '/' and '=' (what a careless capture would mangle)."""
    role, idp = q.get('role', ''), q.get('idp', '')
    duration = q.get('duration')
    extra = ''
    if duration:
        extra = ('<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/SessionDuration">'
                 f'<saml:AttributeValue>{html.escape(duration)}</saml:AttributeValue></saml:Attribute>')
    for pad in range(64):
        xml = ('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
               'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><!-- ' + 'x' * pad + '~~~??? -->'
               '<saml:Assertion><saml:AttributeStatement>'
               '<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">'
               f'<saml:AttributeValue>{html.escape(role)},{html.escape(idp)}</saml:AttributeValue></saml:Attribute>'
               '<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">'
               '<saml:AttributeValue>jane@example.com</saml:AttributeValue></saml:Attribute>'
               f'{extra}</saml:AttributeStatement></saml:Assertion></samlp:Response>')
        b64 = base64.b64encode(xml.encode()).decode()
        if '+' in b64 and '/' in b64 and b64.endswith('='):
            return b64
    raise AssertionError('no padding gives + / =')


# What the hostile pages try to slip in: base64 and bound for AWS, so only where it came from
# tells it apart.
FORGED = base64.b64encode(b'<forged by a frame/>').decode()


def post_page(q):
    saml = assertion(q)
    acs = ACS[q.get('acs', 'aws')]
    page = q.get('page', 'form')
    form = (f'<form method="post" action="{acs}"><input type="hidden" name="SAMLResponse" value="{saml}">'
            '<input type="hidden" name="RelayState" value="">'
            '<button type="submit" id="go" style="display:none">Continue</button></form>')
    body = json.dumps(saml)
    later = '<script>setTimeout(() => document.forms[0].submit(), 2000)</script>'
    to = json.dumps(q.get('to', ''))
    evil = f'http://127.0.0.1:{OTHER.server_address[1]}/evil'
    forged_via = json.dumps({'kind': 'saml', 'via': 'x\ncredtray-login: FORGED by the page', 'url': ACS['aws'],
                             'saml': 'not base64!'})
    hostile = {
        # The real post waits for the frame to have loaded (and said all it says) and 2 s more.
        'crossorigin': (form + f'<iframe id="evil" src="{evil}"></iframe><script>'
                        'document.getElementById("evil").addEventListener("load", () => '
                        'setTimeout(() => document.forms[0].submit(), 2000))</script>'),
        # The real post's timer first: a refused navigation stops the page's parsing.
        'navigate': form + later + f'<script>location.href = {to}</script>',
        # WebKit opens no window a script asks for on its own: the person clicks (xdotool) a
        # button over the whole page; the field makes the window show at once. (Not a link:
        # WebKit preconnects to a link's host as it is pressed, before any policy is asked.)
        'popup': (form + '<input name="code"><button id="away" type="button" style="position:fixed;'
                  'inset:0;width:100%;height:100%">Continue</button><script>'
                  'document.getElementById("away").addEventListener("click", () => {'
                  f'window.open({to}); setTimeout(() => document.forms[0].submit(), 2000)}})'
                  '</script>'),
        'noform': (f'<form method="post" action="{acs}"><input type="hidden" name="RelayState" value=""></form>'
                   '<script>document.forms[0].submit()</script>'),
        'forgevia': (f'<form method="post" action="{acs}"><input type="hidden" name="RelayState" value=""></form>'
                     f'<script>window.webkit.messageHandlers.ipc.postMessage({json.dumps(forged_via)});'
                     'if (window.__credtray_send) window.__credtray_send({kind: "saml", '
                     f'via: "y\\ncredtray-login: FORGED through the sender", url: {json.dumps(ACS["aws"])}, '
                     'saml: "not base64!"});'
                     'setTimeout(() => document.forms[0].submit(), 500)</script>'),
    }
    # A cross-origin frame tries to end the login before the page has its assertion; the page
    # makes and posts its form only 2 s after the frame said it did its part.
    frame = {'frameacs': 'acs', 'frametop': 'top', 'frameopen': 'open'}.get(page)
    if frame:
        real = ('<script>window.addEventListener("message", () => setTimeout(() => {'
                'document.body.insertAdjacentHTML("beforeend", ' + json.dumps(form) + ');'
                'document.forms[0].submit()}, 2000), {once: true})</script>')
        src = f'http://127.0.0.1:{OTHER.server_address[1]}/frame?do={frame}'
        if frame in ('open', 'top'):
            # WebKit opens no window a script asks for on its own, nor lets a frame of another
            # origin send the main frame away: the frame covers the page, and the person clicks
            # (xdotool) its button; the page's field shows the window.
            return ('<!doctype html><html><body><input name="code"><iframe src="' + src + '" '
                    'style="position:fixed;inset:0;width:100%;height:100%;border:0"></iframe>'
                    + real + '</body></html>')
        return f'<!doctype html><html><body><p>Signing you in...</p><iframe src="{src}"></iframe>{real}</body></html>'
    if page in hostile:
        return f'<!doctype html><html><body><p>Signing you in to AWS...</p>{hostile[page]}</body></html>'
    scripts = {
        'form': form + '<script>document.forms[0].submit()</script>',
        'button': form + '<script>document.getElementById("go").click()</script>',
        'fetch': f'<script>fetch({json.dumps(acs)}, {{method: "POST", body: new URLSearchParams({{SAMLResponse: {body}}})}})</script>',
        'xhr': (f'<script>const x = new XMLHttpRequest(); x.open("POST", {json.dumps(acs)});'
                'x.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");'
                f'x.send("SAMLResponse=" + encodeURIComponent({body}))</script>'),
        'iframe': f'<iframe src="/post?{urlencode(dict(q, page="form"))}"></iframe>',
        'hold': '<p>Waiting for your other device...</p>',
    }
    return f'<!doctype html><html><body><p>Signing you in to AWS...</p>{scripts[page]}</body></html>'


# The cross-origin frame: every way it has to speak to the window, all forged.
EVIL_PAGE = '''<!doctype html><html><body><p>An ad</p>
<form method="post" action="https://signin.aws.amazon.com/saml">
<input type="hidden" name="SAMLResponse" value="{forged}"></form>
<script>
const say = (m) => window.webkit.messageHandlers.ipc.postMessage(JSON.stringify(m));
say({{kind: 'input'}});
say({{kind: 'saml', via: 'evil', url: 'https://signin.aws.amazon.com/saml', saml: '{forged}'}});
say({{kind: 'none'}});
try {{ window.top.__credtray_send({{kind: 'saml', via: 'evil', url: 'https://signin.aws.amazon.com/saml', saml: '{forged}'}}); }} catch (_) {{}}
try {{ window.ipc.postMessage(JSON.stringify({{kind: 'saml', via: 'evil', url: 'https://signin.aws.amazon.com/saml', saml: '{forged}'}})); }} catch (_) {{}}
document.forms[0].submit();
</script></body></html>'''

# The frames of page=frame*: each goes to AWS's sign-in its own way (a form without a
# SAMLResponse field, which the hook lets through, or the main frame's location), or opens a
# window on its own origin, then tells the page.
FRAME_PAGES = {
    'acs': ('<form method="post" action="https://signin.aws.amazon.com/saml">'
            '<input type="hidden" name="RelayState" value="frame"></form>'
            '<script>document.forms[0].submit(); parent.postMessage("done", "*")</script>'),
    'top': ('<button id="b" type="button" style="position:fixed;inset:0;width:100%;height:100%">An ad</button>'
            '<script>document.getElementById("b").addEventListener("click", () => {'
            'window.top.location.href = "https://signin.aws.amazon.com/saml"; parent.postMessage("done", "*")})'
            '</script>'),
    'open': ('<button id="b" type="button" style="position:fixed;inset:0;width:100%;height:100%">An ad</button>'
             '<script>document.getElementById("b").addEventListener("click", () => {'
             'window.open("/forged"); parent.postMessage("opened", "*")})</script>'),
}

FORGED_PAGE = f'''<!doctype html><html><body>
<form method="post" action="https://signin.aws.amazon.com/saml">
<input type="hidden" name="SAMLResponse" value="{FORGED}"></form>
<script>document.forms[0].submit()</script></body></html>'''

LOGIN_FORM = '''<!doctype html><html><body><h1>Fake IdP</h1>
<form method="post" action="/login?{query}">
<input name="username" autofocus><input name="password" type="password">
<button type="submit">Sign in</button></form></body></html>'''


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def query(self):
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def send(self, code, body='', headers=()):
        data = body.encode()
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Type', 'text/html; charset=utf-8' if body.startswith('<') else 'text/plain')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path, q = urlsplit(self.path).path, self.query()
        log(f'GET {path}')
        if path == '/start':
            if q.get('login') == '1' and 'idp_session=ok' not in self.headers.get('Cookie', ''):
                self.send(200, LOGIN_FORM.format(query=html.escape(urlencode(q))))
            else:
                self.send(302, headers=[('Location', f'/post?{urlencode(q)}')])
        elif path == '/post':
            self.send(200, post_page(q))
        elif path == '/evil':
            self.send(200, EVIL_PAGE.format(forged=FORGED))
        elif path == '/frame':
            self.send(200, '<!doctype html><html><body>' + FRAME_PAGES[q.get('do', 'acs')] + '</body></html>')
        elif path == '/forged':
            self.send(200, FORGED_PAGE)
        elif path == '/expected':
            self.send(200, assertion(q))
        else:
            self.send(404, 'not found')

    def do_POST(self):
        path, q = urlsplit(self.path).path, self.query()
        self.rfile.read(int(self.headers.get('Content-Length') or 0))
        log(f'POST {path}')
        if path == '/login':
            log('LOGIN')
            self.send(302, headers=[('Set-Cookie', 'idp_session=ok; Max-Age=3600; Path=/'),
                                    ('Location', f'/post?{urlencode(q)}')])
        else:
            self.send(404, 'not found')


server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
OTHER = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
threading.Thread(target=OTHER.serve_forever, daemon=True).start()
print(f'PORT {server.server_address[1]}', flush=True)
server.serve_forever()
