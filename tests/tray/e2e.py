"""End-to-end test of the tray, as a person uses it, on real components: Xvfb with a window
manager, a StatusNotifierWatcher on a private session bus (watcher.py), the menu read and
clicked over com.canonical.dbusmenu (probe.py), a real Secret Service, moto, the AWS CLI, dunst
receiving the toasts, and the GTK dialog driven with xdotool.

Run by scripts/test inside its D-Bus session with DISPLAY set; prints "N passed, N failed".
Environment: CREDTRAY (the binary), CREDTRAY_TEST_PYTHON (venv Python with boto3),
CREDTRAY_TEST_AWS (the AWS CLI), CREDTRAY_TEST_MOTO (moto's URL); CREDTRAY_E2E_ONLY (optional) picks
steps by the start of their names.
"""
import atexit
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CREDTRAY = os.environ['CREDTRAY']
MOTO = os.environ['CREDTRAY_TEST_MOTO']
root = tempfile.mkdtemp(prefix='credtray-tray-')
home = os.path.join(root, 'home')
os.makedirs(os.path.join(home, '.aws'))
runtime = os.path.join(root, 'run')
os.makedirs(runtime, mode=0o700)
env = dict(os.environ, HOME=home, CREDTRAY_CONFIG_DIR=os.path.join(root, 'config'), AWS_ENDPOINT_URL=MOTO,
           CREDTRAY_LOG='info', XDG_RUNTIME_DIR=runtime, XDG_CONFIG_HOME=os.path.join(home, '.config'))
for var in ('AWS_SHARED_CREDENTIALS_FILE', 'AWS_CONFIG_FILE', 'AWS_PROFILE', 'AWS_REGION'):
    env.pop(var, None)
# A fake `ykman` on the tray's PATH (tests/support/fake_mfa.py; moto takes any code it prints).
FAKE_MFA = os.path.join(root, 'fake-mfa')
os.makedirs(os.path.join(FAKE_MFA, 'bin'))
with open(os.path.join(FAKE_MFA, 'seed'), 'w') as f:
    f.write('JBSWY3DPEHPK3PXP')
os.symlink(os.path.join(HERE, '..', 'support', 'fake_mfa.py'), os.path.join(FAKE_MFA, 'bin', 'ykman'))
env.update(PATH=os.path.join(FAKE_MFA, 'bin') + os.pathsep + env['PATH'], FAKE_MFA_DIR=FAKE_MFA)
FOREIGN_CREDENTIALS = '# mine\n[personal]\naws_access_key_id = AKIAPERSONAL000001\naws_secret_access_key = p\n'
FOREIGN_CONFIG = '[profile personal]\nregion = sa-east-1\n\n[default]\noutput = json\n'
results = []
processes = []


def credtray(*args, stdin=''):
    return subprocess.run([CREDTRAY, *args], input=stdin, text=True, env=env, capture_output=True, check=True).stdout


def aws(*args):
    return subprocess.run([os.environ['CREDTRAY_TEST_AWS'], *args], text=True, env=env, capture_output=True)


def wait_for(what, check, timeout=20):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as e:  # the menu may be mid-update
            last = e
        time.sleep(0.2)
    raise AssertionError(f'timed out waiting for {what} (last: {last!r})')


def labels():
    return [k['label'] for k in probe.tree()['children']]


# CREDTRAY_E2E_ONLY=f:,c27: runs only the steps whose names start with one of these prefixes
# (the set-up always runs), to try one step without the rest; unset, every step runs.
ONLY = [prefix for prefix in os.environ.get('CREDTRAY_E2E_ONLY', '').split(',') if prefix]


def step(name):
    def run(fn):
        if ONLY and not any(name.startswith(prefix) for prefix in ONLY):
            return
        try:
            fn()
            results.append((name, None))
            print(f'ok     {name}', flush=True)
        # probe.py says "no such item" with SystemExit: a failed step, not the end of the run.
        except (Exception, SystemExit):
            results.append((name, traceback.format_exc()))
            print(f'FAILED {name}\n{traceback.format_exc()}', flush=True)
    return run


def stop_processes():
    for p in processes:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


# Whatever ends the run, what it started stops.
atexit.register(stop_processes)


def background(args, log, extra_env=None):
    p = subprocess.Popen(args, stdout=open(log, 'w'), stderr=subprocess.STDOUT, env=dict(env, **(extra_env or {})))
    processes.append(p)
    return p


def aws_files():
    read = lambda n: open(os.path.join(home, '.aws', n)).read() if os.path.exists(os.path.join(home, '.aws', n)) else ''
    return read('credentials'), read('config')


# --- set-up: fixtures, sessions, foreign profiles, watcher, notification monitor, the tray -------
fixtures = json.loads(subprocess.check_output(
    [os.environ['CREDTRAY_TEST_PYTHON'], os.path.join(HERE, '..', 'support', 'moto_fixtures.py'), MOTO, 'tray']))
with open(os.path.join(home, '.aws', 'credentials'), 'w') as f:
    f.write(FOREIGN_CREDENTIALS)
# Readable by others, as many a hand-made one is: the tray keeps the mode and says so once (c2a).
os.chmod(os.path.join(home, '.aws', 'credentials'), 0o644)
with open(os.path.join(home, '.aws', 'config'), 'w') as f:
    f.write(FOREIGN_CONFIG)
credtray('session', 'add', 'iam-user', '--alias', 'dev', '--profile', 'dev', '--region', 'eu-west-1',
         '--access-key-id', '-', '--secret-access-key', '-',
         stdin=f"{fixtures['access_key_id']}\n{fixtures['secret_access_key']}\n")
credtray('session', 'add', 'iam-role-federated', '--alias', 'sydney', '--profile', 'syd', '--region', 'ap-southeast-2',
         '--role-arn', fixtures['federated_role_arn'], '--idp-arn', fixtures['idp_arn'], '--saml-url', 'https://idp.example.com/saml')

watcher_log = os.path.join(root, 'watcher.log')
watcher = background(['/usr/bin/python3', os.path.join(HERE, 'watcher.py')], watcher_log)
wait_for('the watcher', lambda: 'WATCHER_READY' in open(watcher_log).read())
notify_log = os.path.join(root, 'notify.log')
background(['dbus-monitor', '--session', "interface='org.freedesktop.Notifications',member='Notify'"], notify_log)
# A local IAM Identity Center (tests/support/sso_stub.py) for Integrations ▸, approving a login
# after one pending poll; the tray's calls go there, and xdg-open "opens" nothing.
stub = subprocess.Popen([os.environ['CREDTRAY_TEST_PYTHON'], os.path.join(HERE, '..', 'support', 'sso_stub.py'),
                         '--watch-stdin'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
processes.append(stub)
STUB = stub.stdout.readline().split()[-1]
urllib.request.urlopen(urllib.request.Request(
    f'{STUB}/_stub/config', data=json.dumps({'auto_approve_after': 1, 'interval': 1}).encode(), method='POST',
    headers={'Content-Type': 'application/json'}))
# A stub of the AWS federation endpoint for Open web console, and a "browser" that records the
# links it is given and follows the one-time loopback link once (not the redirect), recording
# where it points.
federation_log = os.path.join(root, 'federation.log')
federation = subprocess.Popen(['/usr/bin/python3', os.path.join(HERE, '..', 'support', 'federation_stub.py'),
                               federation_log], stdout=subprocess.PIPE, text=True)
processes.append(federation)
FEDERATION = f"http://127.0.0.1:{federation.stdout.readline().split()[-1]}/federation"
browser_log = os.path.join(root, 'browser.log')
browser = os.path.join(root, 'browser.py')
with open(browser, 'w') as f:
    f.write(f'''#!/usr/bin/python3
import re, sys, http.client, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
line = sys.argv[1]
if u.hostname == '127.0.0.1' and re.fullmatch(r'/[A-Za-z0-9_-]{{43}}', u.path):
    c = http.client.HTTPConnection(u.hostname, u.port)
    c.request('GET', u.path)
    line += ' -> ' + (c.getresponse().getheader('Location') or '')
open({browser_log!r}, 'a').write(line + '\\n')
''')
os.chmod(browser, 0o755)
env.update(AWS_ENDPOINT_URL_SSO=STUB, AWS_ENDPOINT_URL_SSO_OIDC=STUB, BROWSER=browser,
           CREDTRAY_FEDERATION_ENDPOINT=FEDERATION)
for var in ('XDG_CURRENT_DESKTOP', 'DESKTOP_SESSION'):
    env.pop(var, None)
# A fake SAML identity provider (tests/support/fake_idp.py) that wants a login, then posts a
# SAMLResponse (15-minute SessionDuration) for the federated fixtures to the real AWS sign-in URL.
idp_log = os.path.join(root, 'idp.log')
idp = subprocess.Popen(['/usr/bin/python3', os.path.join(HERE, '..', 'support', 'fake_idp.py'), idp_log],
                       stdout=subprocess.PIPE, text=True)
processes.append(idp)
IDP_URL = f"http://127.0.0.1:{idp.stdout.readline().split()[-1]}/start?" + urllib.parse.urlencode(
    {'login': '1', 'duration': '900', 'role': fixtures['federated_role_arn'], 'idp': fixtures['idp_arn']})
env['XDG_DATA_HOME'] = os.path.join(home, '.local', 'share')
# A headless agent already running: the tray asks it to hand over.
headless = background([CREDTRAY, 'agent'], os.path.join(root, 'agent.log'))
wait_for('the headless agent', lambda: os.path.exists(os.path.join(runtime, 'credtray', 'agent.sock')))
tray_log = os.path.join(root, 'tray.log')
tray = background([CREDTRAY], tray_log)
wait_for('the tray to register', lambda: 'REGISTERED' in open(watcher_log).read())
wait_for('the menu', lambda: any(l.startswith('○ dev') for l in labels()))


def agent_hello():
    import socket
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(os.path.join(runtime, 'credtray', 'agent.sock'))
        sock.sendall(b'{"version":1,"request":"hello"}')
        sock.shutdown(socket.SHUT_WR)
        return json.loads(sock.makefile().read())


@step('a0: the headless agent running when the tray started handed its socket over to the tray')
def _():
    assert headless.wait(timeout=10) == 0, open(os.path.join(root, 'agent.log')).read()
    hello = wait_for('the tray to answer on the socket', lambda: (lambda h: h if h.get('tray') else None)(agent_hello()))
    assert hello['pid'] == tray.pid, (hello, tray.pid)


@step('a: Start from the menu, then the AWS CLI works on the profile')
def _():
    probe.click(['○ dev*', 'Start'])
    wait_for('dev to be active', lambda: '● dev — dev · eu-west-1' in labels())
    out = aws('sts', 'get-caller-identity', '--profile', 'dev')
    assert out.returncode == 0, out.stderr
    assert ':user/' in json.loads(out.stdout)['Arn'], out.stdout
    creds, config = aws_files()
    assert creds.startswith(FOREIGN_CREDENTIALS) and '[dev]' in creds, creds
    assert config.startswith(FOREIGN_CONFIG) and '[profile dev]\nregion = eu-west-1\n' in config, config


@step('b: change the region of the active session through the radio submenu')
def _():
    probe.click(['● dev*', 'Edit', 'AWS region: eu-west-1', 'ap-southeast-2*'])
    wait_for('dev in ap-southeast-2', lambda: '● dev — dev · ap-southeast-2' in labels())
    creds, config = wait_for('the config to move', lambda: (lambda c: c if 'region = ap-southeast-2' in c[1] else None)(aws_files()))
    assert config.startswith(FOREIGN_CONFIG), config
    assert config.count('[profile dev]') == 1 and 'eu-west-1' not in config, config
    assert creds.startswith(FOREIGN_CREDENTIALS), creds
    region = aws('configure', 'get', 'region', '--profile', 'dev')
    assert region.stdout.strip() == 'ap-southeast-2', region
    assert aws('sts', 'get-caller-identity', '--profile', 'dev').returncode == 0
    edit = [k for k in probe.find(probe.tree(), ['● dev*', 'Edit', 'AWS region*'])['children'] if k['toggle'] == 1]
    assert [k['label'] for k in edit] == ['ap-southeast-2 — Asia Pacific (Sydney)'], edit


@step('c: Test credential generation shows a toast with the caller')
def _():
    probe.click(['● dev*', 'Test credential generation'])
    text = wait_for('the toast', lambda: (lambda t: t if 'Credentials work' in t else None)(open(notify_log).read()))
    assert 'Test credential generation: dev' in text, text
    assert 'Caller: arn:aws:' in text, text
    count = subprocess.run(['dunstctl', 'count', 'history'], capture_output=True, text=True).stdout.strip()
    shown = subprocess.run(['dunstctl', 'count', 'displayed'], capture_output=True, text=True).stdout.strip()
    assert int(count or 0) + int(shown or 0) >= 1, (count, shown)


@step('c1: Open web console opens the browser at a one-time link to the sign-in URL, which holds the token')
def _():
    probe.click(['● dev*', 'Open web console'])
    line = wait_for('the browser', lambda: next((l for l in open(browser_log).read().splitlines() if ' -> ' in l), None)
                    if os.path.exists(browser_log) else None)
    link, location = line.split(' -> ')
    token = [l.split()[1] for l in open(federation_log) if l.startswith('TOKEN ')][-1]
    assert token not in link, 'the command line holds no token'
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert location.startswith(FEDERATION) and query['Action'] == 'login' and query['SigninToken'] == token, location
    assert query['Destination'] == 'https://console.aws.amazon.com/console/home?region=ap-southeast-2', query
    assert token not in open(tray_log).read(), 'no log line holds the token'


@step('c2: Publish as ▸ Process republishes the active session as a credential_process, and back')
def _():
    probe.click(['● dev*', 'Publish as: file', 'Process*'])
    creds, config = wait_for('the credential_process line', lambda: (lambda c: c if 'credential_process' in c[1] else None)(aws_files()))
    cli = os.path.join(os.path.dirname(os.path.realpath(CREDTRAY)), 'credtray')
    assert f"credential_process = '{cli}' credential-process --session " in config, config
    assert creds == FOREIGN_CREDENTIALS, creds
    wait_for('the new mode in the menu',
             lambda: 'Publish as: process' in [k['label'] for k in probe.find(probe.tree(), ['● dev*'])['children']])
    out = aws('sts', 'get-caller-identity', '--profile', 'dev')
    assert out.returncode == 0 and ':user/' in out.stdout, out
    probe.click(['● dev*', 'Publish as: process', 'File*'])
    creds, config = wait_for('the credentials back', lambda: (lambda c: c if '[dev]' in c[0] else None)(aws_files()))
    assert 'credential_process' not in config, config
    assert json.loads(credtray('session', 'show', 'dev', '--json'))['publish'] == 'file'


def xdotool(*args):
    subprocess.run(['xdotool', *args], check=True, timeout=20, capture_output=True)


def open_window(title):
    """Waits for the visible window called `title` and gives it the keyboard; its id."""
    found = subprocess.run(['xdotool', 'search', '--sync', '--onlyvisible', '--name', title],
                           check=True, timeout=20, capture_output=True, text=True)
    window = found.stdout.split()[0]
    xdotool('windowactivate', '--sync', window)
    time.sleep(0.3)
    return window


def visible(title):
    return subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', title], capture_output=True).returncode == 0


def store_bytes():
    return open(os.path.join(env['CREDTRAY_CONFIG_DIR'], 'config.toml'), 'rb').read()


def toasts(text):
    return open(notify_log).read().count(text)


@step('c2a: the credentials file others can read is named once in a toast, with its mode and the chmod; the mode is kept')
def _():
    sentence = '~/.aws/credentials is readable by others (mode 0644): run chmod 600 ~/.aws/credentials'
    wait_for('the toast', lambda: toasts(sentence))
    # Started, restarted in another region and republished twice by now: still one toast.
    assert toasts('Others can read your AWS credentials') == 1, open(notify_log).read()
    assert toasts(sentence) == 1, open(notify_log).read()
    assert os.stat(os.path.join(home, '.aws', 'credentials')).st_mode & 0o777 == 0o644


@step('c2b: Start at login writes and removes the autostart entry; the check mark follows the file')
def _():
    entry = os.path.join(home, '.config', 'autostart', 'credtray.desktop')
    checked = lambda: next(k for k in probe.tree()['children'] if k['label'] == 'Start at login')['toggle']
    assert not os.path.exists(entry) and checked() == 0
    probe.click(['Start at login'])
    wait_for('the entry', lambda: os.path.exists(entry))
    cli = os.path.join(os.path.dirname(os.path.realpath(CREDTRAY)), 'credtray')
    text = open(entry).read()
    assert text.startswith('[Desktop Entry]\n') and f'\nExec={cli}\n' in text, text
    wait_for('the check mark', lambda: checked() == 1)
    probe.click(['Start at login'])
    wait_for('the entry gone', lambda: not os.path.exists(entry))
    wait_for('no check mark', lambda: checked() == 0)
    os.makedirs(os.path.dirname(entry), exist_ok=True)
    with open(entry, 'w') as f:
        f.write(text)
    try:
        wait_for('the check mark for a file made elsewhere', lambda: checked() == 1, timeout=10)
    except AssertionError:
        lines = open(tray_log).read().splitlines()
        print('\n'.join(l for l in lines[-200:] if 'DEBUG' not in l)[-6000:], flush=True)
        raise
    os.remove(entry)
    wait_for('no check mark again', lambda: checked() == 0, timeout=10)


def proxy_log(port):
    """The requests the test proxy was asked to carry (tests/support/net_proxy.py), read
    without any proxy in between."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return json.load(opener.open(f'http://127.0.0.1:{port}/_proxy/log', timeout=10))['requests']


@step('c2c: Network… saves a proxy with its user and password (the password in the keychain only); a CA bundle that is not PEM re-opens the form and saves nothing; the tray\'s next call goes through the proxy, and a CLI change back reaches the tray')
def _():
    user, password = 'tray-user', 'pw-' + uuid.uuid4().hex
    # A proxy that wants that user and password (given on its stdin, never in argv).
    proxy = subprocess.Popen(['/usr/bin/python3', os.path.join(HERE, '..', 'support', 'net_proxy.py')],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    processes.append(proxy)
    proxy.stdin.write(json.dumps({'user': user, 'password': password}) + '\n')
    proxy.stdin.flush()
    port = int(proxy.stdout.readline().split()[-1])
    url = f'http://127.0.0.1:{port}'
    moto = urllib.parse.urlsplit(MOTO).netloc
    not_pem = os.path.join(root, 'not-a-bundle.pem')
    with open(not_pem, 'w') as f:
        f.write('not a certificate\n')
    dev = next(l for l in labels() if re.match(r'. dev — ', l))

    def test_dev():
        """Test credential generation on dev; the toast's text."""
        before = toasts('Test credential generation: dev')
        probe.click([dev, 'Test credential generation'])
        wait_for('the test toast', lambda: toasts('Test credential generation: dev') > before, timeout=30)
        log = open(notify_log).read()
        return log[log.rindex('Test credential generation: dev'):]

    try:
        before = store_bytes()
        refused = open(tray_log).read().count('the network settings were refused')
        probe.click(['Network…'])
        title = 'credtray — Network'
        open_window(title)
        # Proxy (entry, list button), URL, hosts that go direct, user, password, CA bundle.
        xdotool('key', 'ctrl+a')
        xdotool('type', '--delay', '10', 'This proxy')
        for text in (None, url, None, user, password, not_pem):
            xdotool('key', 'Tab')
            if text:
                xdotool('type', '--delay', '10', text)
        xdotool('key', 'Return')
        # The engine can't use the bundle: the form opens again with why, and nothing is saved.
        wait_for('the refusal', lambda: open(tray_log).read().count('the network settings were refused') > refused)
        open_window(title)
        assert store_bytes() == before, 'a refused setting saved something'
        assert json.loads(credtray('settings', 'show', '--json'))['proxy'] is None
        # Filled again with what was typed but the password: type it again, empty the bundle.
        for text in (None, None, None, None, password):
            xdotool('key', 'Tab')
            if text:
                xdotool('type', '--delay', '10', text)
        xdotool('key', 'Tab')
        xdotool('key', 'ctrl+a')
        xdotool('key', 'BackSpace')
        xdotool('key', 'Return')
        wait_for('the saved toast', lambda: toasts('Network settings saved'))
        wait_for('the form to close', lambda: not visible(title))
        log = open(notify_log).read()
        assert f'proxy http://{user}@127.0.0.1:{port}' in log[log.rindex('Network settings saved'):], log[-800:]
        shown = json.loads(credtray('settings', 'show', '--json'))
        assert shown == {'proxy': url, 'no_proxy': None, 'proxy_user': user, 'proxy_password': True,
                         'ca_bundle': None, 'keychain': 'os', 'keychain_chosen_by': 'default'}, shown
        kept = subprocess.run(['secret-tool', 'lookup', 'service', 'credtray', 'username', 'settings-proxy-password'],
                              capture_output=True, text=True, check=True).stdout
        assert kept.rstrip('\n') == password, 'the keychain holds the password typed'
        assert password not in store_bytes().decode(), 'config.toml holds the password'
        # The tray's next call goes through the proxy, with the user and password.
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            urllib.request.Request(f'{url}/_proxy/clear_log', data=b'', method='POST'), timeout=10)
        assert 'Credentials work' in test_dev()
        carried = [r for r in proxy_log(port) if r['target'] == moto]
        assert carried and all(r['authorized'] for r in carried), proxy_log(port)
        # The CLI puts the environment back: the tray follows it at its next call.
        credtray('settings', 'proxy', '--env')
        seen = len(proxy_log(port))
        assert 'Credentials work' in test_dev()
        assert len(proxy_log(port)) == seen, f'the tray still went through the proxy: {proxy_log(port)[seen:]}'
        for text in (open(tray_log).read(), open(notify_log).read()):
            assert password not in text, 'the password is in a log'
    finally:
        credtray('settings', 'proxy', '--env')
        proxy.stdin.close()
        proxy.terminate()
        proxy.wait(timeout=10)


@step('c3: Edit session…: Test tries the typed role ARN (a toast names it, nothing saved), an invalid ARN keeps the form open, Save restarts the session with the new one')
def _():
    credtray('session', 'chain', 'dev', '--role-arn', fixtures['role_arn'], '--alias', 'formtest', '--profile', 'formtest')
    credtray('session', 'start', 'formtest')
    wait_for('formtest active', lambda: any(l.startswith('● formtest') for l in labels()))
    before = store_bytes()
    tested = toasts('Test credential generation: formtest')
    probe.click(['● formtest*', 'Edit session…'])
    title = 'Edit session "formtest"'
    open_window(title)
    for _ in range(5):  # alias, named profile (entry, list button), region (entry, list button)
        xdotool('key', 'Tab')
    xdotool('key', 'ctrl+a')
    xdotool('type', '--delay', '10', 'arn:aws:iam::1:role/x')
    xdotool('key', 'Return')
    time.sleep(1.5)
    assert visible(title), 'an invalid ARN keeps the form open'
    assert store_bytes() == before, 'and saves nothing'
    xdotool('key', 'ctrl+a')
    xdotool('type', '--delay', '10', fixtures['deeper_role_arn'])
    xdotool('key', 'alt+t')
    deeper = fixtures['deeper_role_arn'].rsplit('/', 1)[1]
    wait_for('the test toast', lambda: toasts('Test credential generation: formtest') > tested, timeout=30)
    log = open(notify_log).read()
    assert f'assumed-role/{deeper}/' in log[log.rindex('Test credential generation: formtest'):], log[-800:]
    assert visible(title) and store_bytes() == before, 'Test saves nothing'
    xdotool('key', 'alt+s')
    wait_for('the form to close', lambda: not visible(title))
    wait_for('the new role saved', lambda: json.loads(credtray('session', 'show', 'formtest', '--json'))['role_arn']
             == fixtures['deeper_role_arn'])
    wait_for('the restart', lambda: toasts('Restarted formtest') >= 1, timeout=30)
    out = aws('sts', 'get-caller-identity', '--profile', 'formtest')
    assert out.returncode == 0 and f'assumed-role/{deeper}/' in out.stdout, out


@step('c4: a secret entry of the edit form can\'t be copied to the clipboard; a plain one can')
def _():
    subprocess.run(['xclip', '-selection', 'clipboard'], input='known-clipboard-value', text=True, check=True)
    clipboard = lambda: subprocess.run(['xclip', '-o', '-selection', 'clipboard'], capture_output=True,
                                       text=True, timeout=10).stdout
    assert clipboard() == 'known-clipboard-value'
    before = store_bytes()
    probe.click(['● dev*', 'Edit session…'])
    title = 'Edit session "dev"'
    open_window(title)
    for _ in range(7):  # alias, profile (2), region (2), MFA device, MFA source: the access key ID
        xdotool('key', 'Tab')
    xdotool('type', '--delay', '10', 'AKIASECRETSECRET0001')
    xdotool('key', 'ctrl+a')
    xdotool('key', 'ctrl+c')
    time.sleep(0.5)
    assert clipboard() == 'known-clipboard-value', 'the masked entry gave its text away'
    xdotool('key', 'shift+Tab')  # the MFA source: a plain entry, whose copy must work
    xdotool('key', 'ctrl+a')
    xdotool('type', '--delay', '10', 'typed-plain-value')
    xdotool('key', 'ctrl+a')
    xdotool('key', 'ctrl+c')
    wait_for('the plain copy', lambda: clipboard() == 'typed-plain-value', timeout=5)
    xdotool('key', 'Escape')
    wait_for('the form to close', lambda: not visible(title))
    assert store_bytes() == before, 'Cancel saves nothing'


@step('c5: Duplicate session… adds "<alias> copy" on the same profile, asking an IAM user\'s keys')
def _():
    probe.click(['● dev*', 'Duplicate session…'])
    open_window('Duplicate "dev"')
    for _ in range(7):  # alias, profile (2), region (2), MFA device, MFA source
        xdotool('key', 'Tab')
    xdotool('type', '--delay', '10', fixtures['access_key_id'])
    xdotool('key', 'Tab')
    xdotool('type', '--delay', '10', fixtures['secret_access_key'])
    xdotool('key', 'Return')
    wait_for('the copy in the menu', lambda: any(l.startswith('○ dev copy') for l in labels()))
    copy = json.loads(credtray('session', 'show', 'dev copy', '--json'))
    assert copy['profile'] == 'dev' and copy['region'] == 'ap-southeast-2' and copy['kind'] == 'iam-user', copy
    credtray('session', 'delete', 'dev copy')


@step('d: Create chained session… through the GTK dialog, then it is in the menu')
def _():
    probe.click(['● dev*', 'Create chained session…'])
    subprocess.run(['xdotool', 'search', '--sync', '--name', 'Create chained session from', 'windowactivate', '--sync'],
                   check=True, timeout=20, capture_output=True)
    subprocess.run(['xdotool', 'type', '--delay', '5', fixtures['role_arn']], check=True)
    subprocess.run(['xdotool', 'key', 'Return'], check=True)
    # "Start it now?": No, so the new session stays inactive.
    subprocess.run(['xdotool', 'search', '--sync', '--name', 'Chained session created', 'windowactivate', '--sync'],
                   check=True, timeout=20, capture_output=True)
    subprocess.run(['xdotool', 'key', 'Escape'], check=True)
    wait_for('the chained session', lambda: '○ dev chained — default · ap-southeast-2' in labels())
    shown = json.loads(credtray('session', 'show', 'dev chained', '--json'))
    assert shown['role_arn'] == fixtures['role_arn'] and shown['role_session_name'] == 'credtray-dev', shown


@step('e: a CLI change shows up in the menu within a second')
def _():
    credtray('session', 'edit', 'sydney', '--alias', 'sydney-fed')
    start = time.time()
    wait_for('the new alias', lambda: any(l.startswith('○ sydney-fed') for l in labels()), timeout=5)
    assert time.time() - start < 1.5, time.time() - start


def visible_login_windows(alias):
    found = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', f'for session {alias}$'],
                           capture_output=True, text=True)
    return found.stdout.split()


@step('e2: a start that needs a SAML login shows "Starting…" and the IdP\'s login window; once typed in, the AWS CLI uses the profile')
def _():
    credtray('session', 'edit', 'sydney-fed', '--saml-url', IDP_URL)
    probe.click(['○ sydney-fed*', 'Start'])
    # WebKit's first start on a loaded machine can take a while.
    window = wait_for('the login window', lambda: (visible_login_windows('sydney-fed') or [None])[0], timeout=60)
    wait_for('the starting mark', lambda: any(l.startswith('◌ sydney-fed') for l in labels()))
    item = probe.find(probe.tree(), ['◌ sydney-fed*', 'Starting…'])
    assert not item['enabled'], item
    subprocess.run(['xdotool', 'windowactivate', '--sync', window], check=True, timeout=20)
    subprocess.run(['xdotool', 'type', '--delay', '20', 'jane'], check=True)
    subprocess.run(['xdotool', 'key', 'Tab'], check=True)
    subprocess.run(['xdotool', 'type', '--delay', '20', 'correct horse'], check=True)
    subprocess.run(['xdotool', 'key', 'Return'], check=True)
    wait_for('sydney-fed to be active', lambda: any(l.startswith('● sydney-fed') for l in labels()), timeout=30)
    out = aws('sts', 'get-caller-identity', '--profile', 'syd')
    assert out.returncode == 0 and ':assumed-role/' in out.stdout, out
    assert open(idp_log).read().count('LOGIN') == 1


def make_due(alias):
    """The session's credentials as if issued 14 of their 15 minutes ago, and its cached role
    credentials gone: the tray's next rotation logs in again."""
    session = json.loads(credtray('session', 'show', alias, '--json'))
    subprocess.run(['secret-tool', 'clear', 'service', 'credtray', 'username', f"{session['id']}-role-credentials"],
                   check=True)
    path = os.path.join(env['CREDTRAY_CONFIG_DIR'], 'config.toml')
    text = open(path).read()
    now = time.time()
    stamp = lambda t: time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))
    blocks = text.split('\n[[session]]\n')
    for i, block in enumerate(blocks):
        if f'id = "{session["id"]}"' in block:
            block = re.sub(r'(?m)^expiration = ".*"$', f'expiration = "{stamp(now + 60)}"', block)
            blocks[i] = re.sub(r'(?m)^issued = ".*"$', f'issued = "{stamp(now - 840)}"', block)
    with open(path + '.e2e', 'w') as f:
        f.write('\n[[session]]\n'.join(blocks))
    os.replace(path + '.e2e', path)


@step('e2b: Forget IdP login… logs out every session of the URL; the rotation that then needs the person shows no window, and a toast offers Log in')
def _():
    credtray('session', 'add', 'iam-role-federated', '--alias', 'sydney-2', '--profile', 'syd2',
             '--role-arn', fixtures['federated_role_arn'], '--idp-arn', fixtures['idp_arn'], '--saml-url', IDP_URL)
    wait_for('sydney-2 in the menu', lambda: any(l.startswith('○ sydney-2') for l in labels()))
    probe.click(['● sydney-fed*', 'Forget IdP login…'])
    subprocess.run(['xdotool', 'search', '--sync', '--name', 'Forget IdP login', 'windowactivate', '--sync'],
                   check=True, timeout=20, capture_output=True)
    subprocess.run(['xdotool', 'key', 'alt+y'], check=True)
    text = wait_for('the forget toast', lambda: (lambda t: t if 'Forgot the IdP login' in t else None)(open(notify_log).read()))
    assert '"sydney-fed", "sydney-2"' in text, text[-600:]
    make_due('sydney-fed')
    deadline = time.time() + 90
    while 'Log in for sydney-fed' not in open(notify_log).read():
        assert time.time() < deadline, 'no toast offering a login within 90 s'
        assert not visible_login_windows('sydney-fed'), 'a rotation showed a login window'
        time.sleep(0.1)
    assert 'wants you to log in again' in open(notify_log).read()
    assert open(idp_log).read().count('LOGIN') == 1, 'nobody typed a login'


@step('e3: a profile taken over through the dialog is given back byte for byte on Stop')
def _():
    before = aws_files()
    assert '[default]\noutput = json\n' in before[1], before
    probe.click(['○ dev chained*', 'Start'])
    subprocess.run(['xdotool', 'search', '--sync', '--name', 'Take over an existing profile', 'windowactivate', '--sync'],
                   check=True, timeout=20, capture_output=True)
    subprocess.run(['xdotool', 'key', 'alt+y'], check=True)
    wait_for('dev chained to be active', lambda: any(l.startswith('● dev chained') for l in labels()))
    creds, config = aws_files()
    assert '[default]\naws_access_key_id = ' in creds, creds
    assert 'output = json' in config and 'region = ap-southeast-2' in config, config
    out = aws('sts', 'get-caller-identity')
    assert out.returncode == 0 and ':assumed-role/' in out.stdout, out
    probe.click(['● dev chained*', 'Stop'])
    wait_for('dev chained to be inactive', lambda: any(l.startswith('○ dev chained') for l in labels()))
    assert aws_files() == before, (aws_files(), before)


@step('e4: credential-process for a session that needs an MFA code asks in the tray agent\'s dialog, then answers')
def _():
    credtray('session', 'add', 'iam-user', '--alias', 'mfa-user', '--profile', 'mfa', '--region', 'eu-west-1',
             '--mfa-device', 'arn:aws:iam::123456789012:mfa/tray',
             '--access-key-id', '-', '--secret-access-key', '-',
             stdin=f"{fixtures['access_key_id']}\n{fixtures['secret_access_key']}\n")
    wait_for('the agent socket', lambda: os.path.exists(os.path.join(runtime, 'credtray', 'agent.sock')))
    # No STS endpoint for the client itself: only the tray's agent can answer.
    call = subprocess.Popen([CREDTRAY, 'credential-process', '--session', 'mfa-user'], text=True,
                            env={k: v for k, v in env.items() if k != 'AWS_ENDPOINT_URL'},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    processes.append(call)
    subprocess.run(['xdotool', 'search', '--sync', '--name', 'MFA code for "mfa-user"', 'windowactivate', '--sync'],
                   check=True, timeout=20, capture_output=True)
    subprocess.run(['xdotool', 'type', '--delay', '20', '123456'], check=True)
    subprocess.run(['xdotool', 'key', 'Return'], check=True)
    out, err = call.communicate(timeout=30)
    assert call.returncode == 0, (call.returncode, err)
    document = json.loads(out)
    assert document['Version'] == 1 and document['AccessKeyId'] and document['SessionToken'], document.keys()
    # The token is cached now: the next call is answered without asking.
    again = subprocess.run([CREDTRAY, 'credential-process', '--session', 'mfa-user'], text=True, env=env,
                           capture_output=True, timeout=10)
    assert again.returncode == 0 and json.loads(again.stdout)['AccessKeyId'] == document['AccessKeyId'], again.stderr


# A form's error line is red (tray/dialog.rs, gtk_view::red) and xdotool can't read a label:
# red pixels in a window where there were none are how this test sees the error. (The one-field
# unlock form refuses nothing itself, so its only error line is the wrong passphrase's.)
RED_PIXELS = '''
import sys, gi
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk
x, y, w, h = map(int, sys.argv[1:])
shot = Gdk.pixbuf_get_from_window(Gdk.get_default_root_window(), x, y, w, h)
data, n, stride = shot.get_pixels(), shot.get_n_channels(), shot.get_rowstride()
print(sum(1 for r in range(h) for c in range(w)
          if data[r * stride + c * n] > 140 and data[r * stride + c * n + 1] < 60 and data[r * stride + c * n + 2] < 90))
'''


def red_pixels(window):
    shape = subprocess.run(['xdotool', 'getwindowgeometry', '--shell', window], check=True, timeout=20,
                           capture_output=True, text=True).stdout
    at = dict(line.split('=', 1) for line in shape.split())
    return int(subprocess.run(['/usr/bin/python3', '-c', RED_PIXELS, at['X'], at['Y'], at['WIDTH'], at['HEIGHT']],
                              check=True, timeout=30, capture_output=True, text=True).stdout)


def windows(title):
    found = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', title], capture_output=True, text=True)
    return found.stdout.split()


@step('e28: a YubiKey MFA source serves credential-process through the tray\'s agent with a "Touch your YubiKey" toast and no dialog; with no YubiKey the MFA dialog asks instead, saying why in red')
def _():
    for alias in ('yk-user', 'yk-gone'):
        credtray('session', 'add', 'iam-user', '--alias', alias, '--profile', alias, '--region', 'eu-west-1',
                 '--mfa-device', f'arn:aws:iam::123456789012:mfa/{alias}', '--mfa-source', f'ykman:AWS:{alias}',
                 '--access-key-id', '-', '--secret-access-key', '-',
                 stdin=f"{fixtures['access_key_id']}\n{fixtures['secret_access_key']}\n")
    # No STS endpoint for the client itself: only the tray's agent can answer.
    client_env = {k: v for k, v in env.items() if k != 'AWS_ENDPOINT_URL'}
    touched = toasts('Touch your YubiKey for yk-user')
    out = subprocess.run([CREDTRAY, 'credential-process', '--session', 'yk-user'], text=True, env=client_env,
                         capture_output=True, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)['AccessKeyId'], out.stderr
    wait_for('the touch toast', lambda: toasts('Touch your YubiKey for yk-user') > touched)
    assert not windows('MFA code for'), 'a dialog although the YubiKey answered'
    calls = open(os.path.join(FAKE_MFA, 'calls')).read()
    assert 'oath accounts code --single AWS:yk-user' in calls, calls

    with open(os.path.join(FAKE_MFA, 'mode'), 'w') as f:
        f.write('no-yubikey')
    try:
        call = subprocess.Popen([CREDTRAY, 'credential-process', '--session', 'yk-gone'], text=True, env=client_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        processes.append(call)
        dialog = open_window('MFA code for "yk-gone"')
        assert red_pixels(dialog) > 0, 'the dialog does not say why it asks'
        xdotool('type', '--delay', '20', '123456')
        xdotool('key', 'Return')
        out, err = call.communicate(timeout=30)
        assert call.returncode == 0 and json.loads(out)['AccessKeyId'], (call.returncode, err)
    finally:
        os.remove(os.path.join(FAKE_MFA, 'mode'))
    log = open(tray_log).read()
    assert 'no YubiKey is plugged in' in log, 'the reason is in the log'
    # The later steps' menu as it was.
    for alias in ('yk-user', 'yk-gone'):
        credtray('session', 'delete', alias)


@step('e5: Integrations ▸ Log in… shows the code in a dialog; after approval a toast, and the derived sessions are in the menu')
def _():
    credtray('integration', 'add', 'aws-sso', '--alias', 'corp', '--start-url', f'{STUB}/start', '--region', 'eu-west-1')
    def integrations():
        node = next(k for k in probe.tree()['children'] if k['label'] == 'Integrations')
        return [k['label'] for k in node['children']]
    wait_for('the integration in the menu', lambda: 'corp — logged out' in integrations())
    probe.click(['Integrations', 'corp — logged out', 'Log in…'])
    subprocess.run(['xdotool', 'search', '--sync', '--name', 'Log in to "corp"'],
                   check=True, timeout=20, capture_output=True)
    wait_for('the code dialog to close', lambda: subprocess.run(
        ['xdotool', 'search', '--name', 'Log in to "corp"'], capture_output=True).returncode == 1)
    text = wait_for('the login toast', lambda: (lambda t: t if 'Logged in to corp' in t else None)(open(notify_log).read()))
    assert re.search(r'6 sessions from 3 accounts: 6 added, 0 kept, 0 removed, in \d+(\.\d)? s\.', text), text[-500:]
    wait_for('the derived sessions', lambda: any(l.startswith('○ dev/AdministratorAccess') and l.endswith('· corp')
                                                 for l in labels()))
    wait_for('the integration logged in', lambda: 'corp — logged in' in integrations())


def stub(path, body):
    urllib.request.urlopen(urllib.request.Request(
        f'{STUB}{path}', data=json.dumps(body).encode(), method='POST', headers={'Content-Type': 'application/json'}))


@step('e5b: while Sync now runs, the integration shows how far it got and Sync now waits; a toast then says what was added, kept and removed')
def _():
    def corp():
        node = next(k for k in probe.tree()['children'] if k['label'] == 'Integrations')
        items = next(k for k in node['children'] if k['label'].startswith('corp — '))['children']
        return {k['label']: k['enabled'] for k in items}
    # Twelve more accounts of one role each, every portal call taking a second: listing the
    # accounts (two a page) takes about eight seconds, their roles a few more.
    extra = [f'4000000000{i:02d}' for i in range(12)]
    for account in extra:
        stub('/_stub/assign', {'accountId': account, 'roleName': 'ReadOnlyAccess', 'accountName': f'extra-{account[-2:]}'})
    stub('/_stub/config', {'delay': 1})
    seen = []

    def counting():
        items = corp()
        line = next((l for l in items if l.startswith('Syncing corp… ')), None)
        if line:
            seen.append((line, items['Sync now']))
        return line if line and re.fullmatch(r'Syncing corp… \d+ / 15', line) else None
    try:
        synced = toasts('Synced corp')
        probe.click(['Integrations', 'corp — logged in', 'Sync now'])
        wait_for('the count of accounts whose roles are listed', counting, 60)
        assert any(re.fullmatch(r'Syncing corp… listing accounts \(\d+\)', l) for l, _ in seen), seen
        assert all(enabled is False for _, enabled in seen), f'Sync now was enabled while syncing: {seen}'
        wait_for('the toast', lambda: toasts('Synced corp') > synced, 60)
        text = open(notify_log).read()
        assert re.search(r'18 sessions from 15 accounts: 12 added, 6 kept, 0 removed, in \d+(\.\d)? s\.', text), text[-800:]
        wait_for('the line to go and Sync now to come back', lambda: (lambda items: items.get('Sync now') is True and not any(
            l.startswith('Syncing') for l in items))(corp()))
    finally:
        # As it was for the next steps: the extra accounts gone, and their sessions with them.
        stub('/_stub/config', {'delay': 0})
        for account in extra:
            stub('/_stub/unassign', {'accountId': account})
    synced = toasts('Synced corp')
    probe.click(['Integrations', 'corp — logged in', 'Sync now'])
    wait_for('the second toast', lambda: toasts('Synced corp') > synced, 60)
    assert re.search(r'6 sessions from 3 accounts: 0 added, 6 kept, 12 removed, in \d+(\.\d)? s\.',
                     open(notify_log).read()), open(notify_log).read()[-800:]


@step('e6: Log out asks first and names the session it stops; then credential-process fails at once and the tray offers a login, once')
def _():
    credtray('session', 'start', 'dev/ReadOnlyAccess')
    wait_for('dev/ReadOnlyAccess active', lambda: any(l.startswith('● dev/ReadOnlyAccess') for l in labels()))
    probe.click(['Integrations', 'corp — logged in', 'Log out'])
    def integrations():
        node = next(k for k in probe.tree()['children'] if k['label'] == 'Integrations')
        return [k['label'] for k in node['children']]
    open_window('credtray — Log out')
    time.sleep(1)
    assert 'Logged out of corp' not in open(notify_log).read(), 'nothing happens before the answer'
    xdotool('key', 'alt+y')
    wait_for('the integration logged out', lambda: 'corp — logged out' in integrations())
    text = wait_for('the logout toast', lambda: (lambda t: t if 'Logged out of corp' in t else None)(open(notify_log).read()))
    assert 'Stopped "dev/ReadOnlyAccess".' in text, text[-600:]
    wait_for('dev/ReadOnlyAccess stopped', lambda: any(l.startswith('○ dev/ReadOnlyAccess') for l in labels()))
    for _ in range(3):
        call = subprocess.run([CREDTRAY, 'credential-process', '--session', 'dev/ReadOnlyAccess'], text=True,
                              env=env, capture_output=True, timeout=20)
        assert call.returncode != 0 and 'log in' in call.stderr, call
    wait_for('the login offer', lambda: 'Log in to corp' in open(notify_log).read())
    time.sleep(1)
    log = open(notify_log).read()
    assert log.count('"Log in to corp"') == 1, log.count('"Log in to corp"')
    assert 'string "Log in"' in log, 'the toast has a Log in action'


@step('f: Quit ends the tray cleanly')
def _():
    probe.click(['Quit'])
    tray.wait(timeout=10)
    assert tray.returncode == 0, tray.returncode


def another_user(name):
    """A throw-away home, config and runtime directory for a second tray: its directory, its
    HOME and its environment."""
    base = os.path.join(root, name)
    home_dir = os.path.join(base, 'home')
    os.makedirs(os.path.join(home_dir, '.aws'))
    os.makedirs(os.path.join(base, 'run'), mode=0o700)
    return base, home_dir, dict(env, HOME=home_dir, CREDTRAY_CONFIG_DIR=os.path.join(base, 'config'),
                                XDG_RUNTIME_DIR=os.path.join(base, 'run'),
                                XDG_CONFIG_HOME=os.path.join(home_dir, '.config'),
                                XDG_DATA_HOME=os.path.join(home_dir, '.local', 'share'))


@step('f2: Quit while a sync applies what it listed waits for the apply; Quit while it lists cancels it and changes nothing')
def _():
    base, _, qenv = another_user('quit-sync')
    release = os.path.join(base, 'release')
    cli = lambda *args: subprocess.run([CREDTRAY, *args], env=qenv, text=True, capture_output=True, check=True).stdout
    aliases = lambda: sorted(s['alias'] for s in json.loads(cli('session', 'list', '--json')))
    cli('integration', 'add', 'aws-sso', '--alias', 'corp', '--start-url', f'{STUB}/start', '--region', 'eu-west-1')
    cli('integration', 'login', 'corp', '--no-browser')
    assert len(aliases()) == 6, aliases()
    stub('/_stub/assign', {'accountId': '400000000099', 'roleName': 'ReadOnlyAccess', 'accountName': 'late'})
    later = [f'4000000001{i:02d}' for i in range(10)]
    try:
        # The tray's first sync stops halfway through its apply (it removes nothing here, so
        # nothing is saved yet) until `release` exists
        # (CREDTRAY_FAILPOINT, debug builds).
        before = open(watcher_log).read().count('REGISTERED')
        held = background([CREDTRAY], os.path.join(base, 'tray.log'),
                          dict(qenv, CREDTRAY_FAILPOINT='sync-halfway', CREDTRAY_FAILPOINT_RELEASE=release))
        wait_for('the tray to register', lambda: open(watcher_log).read().count('REGISTERED') > before, 60)
        wait_for('its menu', lambda: 'Integrations' in labels(), 30)
        probe.click(['Integrations', 'corp — logged in', 'Sync now'])
        wait_for('the sync to reach its apply', lambda: os.path.exists(release + '.waiting'), 60)
        probe.click(['Quit'])
        # Past the five seconds Quit gives the engine: still there, waiting for the apply.
        time.sleep(8)
        assert held.poll() is None, 'the tray quit in the middle of applying a sync'
        assert len(aliases()) == 6, aliases()
        open(release, 'w').close()
        assert held.wait(timeout=30) == 0, open(os.path.join(base, 'tray.log')).read()[-2000:]
        assert 'late/ReadOnlyAccess' in aliases() and len(aliases()) == 7, aliases()
        # Now a sync still listing (ten more accounts, every portal call taking a second, so
        # the account list alone takes seconds): Quit cancels it, and nothing changes.
        for account in later:
            stub('/_stub/assign', {'accountId': account, 'roleName': 'ReadOnlyAccess', 'accountName': f'later-{account[-2:]}'})
        stub('/_stub/config', {'delay': 1})
        before = open(watcher_log).read().count('REGISTERED')
        listing = background([CREDTRAY], os.path.join(base, 'again.log'), qenv)
        wait_for('the tray to register again', lambda: open(watcher_log).read().count('REGISTERED') > before, 60)
        wait_for('its menu', lambda: 'Integrations' in labels(), 30)
        stored = open(os.path.join(qenv['CREDTRAY_CONFIG_DIR'], 'config.toml'), 'rb').read()
        probe.click(['Integrations', 'corp — logged in', 'Sync now'])
        def integration_items():
            node = next(k for k in probe.tree()['children'] if k['label'] == 'Integrations')
            return [k['label'] for k in next(k for k in node['children'] if k['label'].startswith('corp — '))['children']]
        wait_for('the sync to list accounts', lambda: any(l.startswith('Syncing corp… listing accounts') for l in integration_items()), 30)
        probe.click(['Quit'])
        assert listing.wait(timeout=15) == 0, open(os.path.join(base, 'again.log')).read()[-2000:]
        # Cancelled, not cut off when Quit stopped waiting.
        assert 'the sync was cancelled: the tray is quitting' in open(os.path.join(base, 'again.log')).read()
        assert 'late/ReadOnlyAccess' in aliases() and len(aliases()) == 7, aliases()
        assert open(os.path.join(qenv['CREDTRAY_CONFIG_DIR'], 'config.toml'), 'rb').read() == stored
    finally:
        stub('/_stub/config', {'delay': 0})
        for account in ['400000000099', *later]:
            try:
                stub('/_stub/unassign', {'accountId': account})
            except urllib.error.HTTPError as e:
                if e.code != 404:  # never assigned
                    raise


@step('c27: with the file keychain, Start asks its passphrase in the tray\'s dialog (a wrong one asked again, in red), then starts; the tray holding it open serves a CLI that can ask nobody; after agent lock that CLI says "locked", the tray asks again, a cancel is told in a toast, and Quit while it asks ends the tray')
def _():
    base, _, kenv = another_user('file-keychain')
    # The file keychain, with no way to ask but the tray's dialog; scrypt made fast for the test.
    kenv = dict(kenv, CREDTRAY_KEYCHAIN='file', CREDTRAY_KEYCHAIN_WORK_FACTOR='12')
    kenv.pop('CREDTRAY_PASSPHRASE_COMMAND', None)
    keychain = os.path.join(kenv['XDG_DATA_HOME'], 'credtray', 'keychain.age')
    passphrase = 'right horse ' + uuid.uuid4().hex[:8]
    told = os.path.join(base, 'passphrase')
    with open(os.open(told, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
        f.write(passphrase + '\n')

    def cli(*args, stdin='', told_passphrase=False):
        """A CLI command without a terminal; with `told_passphrase`, the passphrase comes from
        CREDTRAY_PASSPHRASE_COMMAND (before the tray runs, nothing else could give it)."""
        run_env = dict(kenv, CREDTRAY_PASSPHRASE_COMMAND=f'cat {told}') if told_passphrase else kenv
        return subprocess.run([CREDTRAY, *args], input=stdin, env=run_env, text=True, capture_output=True,
                              timeout=60, start_new_session=True)

    added = cli('session', 'add', 'iam-user', '--alias', 'vault', '--profile', 'vault', '--region', 'eu-west-1',
                '--access-key-id', '-', '--secret-access-key', '-', told_passphrase=True,
                stdin=f"{fixtures['access_key_id']}\n{fixtures['secret_access_key']}\n")
    assert added.returncode == 0, added
    assert os.path.exists(keychain), 'the keys went to the file keychain'
    state = lambda: {s['alias']: s['state'] for s in json.loads(cli('session', 'list', '--json').stdout)}['vault']
    log = os.path.join(base, 'tray.log')
    registered = open(watcher_log).read().count('REGISTERED')
    vault = background([CREDTRAY], log, kenv)
    started = time.time()
    try:
        wait_for('the tray to register', lambda: open(watcher_log).read().count('REGISTERED') > registered, 60)
        wait_for('its menu', lambda: any(l.startswith('○ vault') for l in labels()), 30)
        assert not windows('credtray — '), 'a dialog before anything needed a secret'

        # 1. Start needs the keys: the dialog asks; a wrong passphrase is asked again, in red.
        probe.click(['○ vault*', 'Start'])
        title = 'credtray — Unlock the file keychain'
        first = open_window(title)
        assert red_pixels(first) == 0, 'an error shown before anything was typed'
        sealed = open(keychain, 'rb').read()
        # While the tray waits for the person, a CLI is told at once that the keychain is not
        # open (the agent does not wait for the opening).
        asked = time.time()
        status = cli('keychain', 'status', '--json')
        assert status.returncode == 1 and json.loads(status.stdout)['agent_holds_open'] is False, status
        assert time.time() - asked < 10, f'keychain status took {time.time() - asked:.1f} s'
        xdotool('type', '--delay', '10', 'wrong horse')
        xdotool('key', 'Return')
        again = wait_for('the dialog again', lambda: [w for w in windows(title) if w != first])[0]
        xdotool('windowactivate', '--sync', again)
        time.sleep(0.3)
        assert red_pixels(again) > 0, 'no error line in the form asked again'
        assert state() == 'inactive' and open(keychain, 'rb').read() == sealed, 'a wrong passphrase changed something'
        xdotool('type', '--delay', '10', passphrase)
        xdotool('key', 'Return')
        wait_for('vault to be active', lambda: state() == 'active', 30)
        wait_for('the dialog to close', lambda: not windows(title))
        out = subprocess.run([os.environ['CREDTRAY_TEST_AWS'], 'sts', 'get-caller-identity', '--profile', 'vault'],
                             text=True, env=kenv, capture_output=True, timeout=60)
        assert out.returncode == 0 and ':user/' in out.stdout, out

        # 2. The tray (the agent) holds the keychain open: a CLI that can ask nobody reads it.
        status = cli('keychain', 'status', '--json')
        assert status.returncode == 0, status
        shown = json.loads(status.stdout)
        assert shown['store'] == 'file' and shown['agent_holds_open'] is True and shown['answers'] is True, shown
        assert shown['items'] >= 2, shown
        served = cli('credential-process', '--session', 'vault')
        assert served.returncode == 0 and json.loads(served.stdout)['AccessKeyId'], served

        # 3. Locked: the same CLI says so, asking nobody.
        locked = cli('agent', 'lock')
        assert locked.returncode == 0, locked
        status = cli('keychain', 'status', '--json')
        shown = json.loads(status.stdout)
        assert status.returncode == 1 and shown['agent_holds_open'] is False and shown['answers'] is False, status
        assert 'is locked' in shown['error'] and 'is locked' in status.stderr, status
        assert not windows(title), 'keychain status made the tray ask'
        # A credential_process the tray's agent serves needs the keys again: the tray asks; a
        # cancel fails the call at once with why.
        call = subprocess.Popen([CREDTRAY, 'credential-process', '--session', 'vault'], env=kenv, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        processes.append(call)
        open_window(title)
        xdotool('key', 'Escape')
        out, err = call.communicate(timeout=30)
        assert call.returncode == 1 and not out and 'no passphrase was given' in err, (call.returncode, out, err)
        wait_for('the dialog to close', lambda: not windows(title))
        # So does the menu's next use of a secret; the cancel is told in a toast.
        refused = toasts('no passphrase was given for credtray')
        probe.click(['● vault*', 'Test credential generation'])
        open_window(title)
        xdotool('key', 'Escape')
        wait_for('the dialog to close', lambda: not windows(title))
        wait_for('the toast saying why', lambda: toasts('no passphrase was given for credtray') > refused, 30)
        assert vault.poll() is None, open(log).read()[-2000:]
        assert any(l.startswith('● vault') for l in labels()), labels()
        # Quit while the passphrase dialog waits: the dialog is cancelled and the tray ends.
        probe.click(['● vault*', 'Test credential generation'])
        open_window(title)
        probe.click(['Quit'])
        assert vault.wait(timeout=15) == 0, open(log).read()[-2000:]
        assert not windows(title), 'the dialog outlived the tray'

        assert passphrase not in open(log).read() and passphrase not in open(notify_log).read(), 'the passphrase in a log'
        print(f'       c27 took {time.time() - started:.1f} s', flush=True)
    finally:
        # A failure may leave a dialog open, and Quit waits for it to be answered.
        if vault.poll() is None:
            vault.terminate()
            try:
                vault.wait(timeout=10)
            except subprocess.TimeoutExpired:
                vault.kill()
                vault.wait(timeout=10)


@step('g: a first run with profiles in ~/.aws offers to import them in a dialog that lists them; accepting imports them')
def _():
    first, fhome, fenv = another_user('first')
    files = {
        'credentials': f"[work]\naws_access_key_id = {fixtures['access_key_id']}\n"
                       f"aws_secret_access_key = {fixtures['secret_access_key']}\n",
        'config': '[profile work]\nregion = eu-west-1\n\n[profile work-admin]\n'
                  f"role_arn = {fixtures['role_arn']}\nsource_profile = work\n\n"
                  '[profile box]\ncredential_source = Ec2InstanceMetadata\n',
    }
    for name, text in files.items():
        with open(os.path.join(fhome, '.aws', name), 'w') as f:
            f.write(text)
    subprocess.run(['xclip', '-selection', 'clipboard'], input='known-clipboard-value', text=True, check=True)
    clipboard = lambda: subprocess.run(['xclip', '-o', '-selection', 'clipboard'], capture_output=True,
                                       text=True, timeout=10).stdout
    first_log = os.path.join(first, 'tray.log')
    first_tray = background([CREDTRAY], first_log, fenv)
    open_window('Import your AWS profiles')
    # The list is selectable text: Tab to it (GTK selects a label's text on focus) and copy.
    listed = ''
    for _ in range(6):
        xdotool('key', 'Tab')
        xdotool('key', 'ctrl+c')
        time.sleep(0.3)
        listed = clipboard()
        if 'work-admin' in listed:
            break
    assert '• work: IAM user' in listed and '• work-admin: role ' in listed, listed
    assert 'Left as they are: box' in listed, listed
    assert fixtures['secret_access_key'] not in listed and fixtures['access_key_id'] not in listed, listed
    xdotool('key', 'alt+i')
    wait_for('the import toast', lambda: toasts('Imported your AWS profiles'))
    sessions = json.loads(subprocess.run([CREDTRAY, 'session', 'list', '--json'], env=fenv, text=True,
                                         capture_output=True, check=True).stdout)
    kinds = {s['alias']: s['kind'] for s in sessions}
    assert kinds == {'work': 'iam-user', 'work-admin': 'iam-role-chained'}, kinds
    for name, text in files.items():
        assert open(os.path.join(fhome, '.aws', name)).read() == text, name
    first_tray.terminate()
    first_tray.wait(timeout=10)
    # Offered once: a second start with nothing imported yet shows no dialog.
    subprocess.run([CREDTRAY, 'session', 'delete', 'work', '--cascade'], env=fenv, capture_output=True, check=True)
    registered = open(watcher_log).read().count('REGISTERED')
    again = background([CREDTRAY], os.path.join(first, 'again.log'), fenv)
    # Up and showing its icon (the offer comes right after), so its silence means something.
    wait_for('the second start to register', lambda: open(watcher_log).read().count('REGISTERED') > registered, 30)
    time.sleep(2)
    assert again.poll() is None, open(os.path.join(first, 'again.log')).read()
    assert not visible('Import your AWS profiles'), 'offered twice'
    again.terminate()
    again.wait(timeout=10)


@step('h: with 2,000 sessions the top level stays short; Find session… starts the one typed; Pin moves one to the top')
def _():
    big, _, benv = another_user('big')
    config_dir = benv['CREDTRAY_CONFIG_DIR']
    os.makedirs(config_dir)
    profiles = [f'team-{i}' for i in range(20)]
    out = ['version = 1', 'profiles = [' + ', '.join(f'"{p}"' for p in ['default'] + profiles) + ']', '']
    for i in range(1999):
        out += ['[[session]]', f'id = "{uuid.uuid4()}"', f'alias = "session-{i:04d}"', 'kind = "iam-role-federated"',
                f'profile = "{profiles[i % 20]}"', 'region = "eu-west-1"', 'state = "inactive"',
                f'role_arn = "arn:aws:iam::123456789012:role/r{i}"', 'saml_url = "https://idp.example.com/saml"',
                'idp_arn = "arn:aws:iam::123456789012:saml-provider/idp"', '']
    with open(os.path.join(config_dir, 'config.toml'), 'w') as f:
        f.write('\n'.join(out))
    subprocess.run([CREDTRAY, 'session', 'add', 'iam-user', '--alias', 'needle-user', '--profile', 'needle',
                    '--region', 'eu-west-1', '--access-key-id', '-', '--secret-access-key', '-'],
                   input=f"{fixtures['access_key_id']}\n{fixtures['secret_access_key']}\n", text=True, env=benv,
                   capture_output=True, check=True)
    before = open(watcher_log).read().count('REGISTERED')
    big_tray = background([CREDTRAY], os.path.join(big, 'tray.log'), benv)
    wait_for('the 2,000-session tray to register', lambda: open(watcher_log).read().count('REGISTERED') > before, 90)
    top = wait_for('its menu', lambda: labels() if any(l.startswith('All sessions') for l in labels()) else None, 60)
    assert len(top) <= 30, top
    assert 'Find session…' in top and 'All sessions (2000)' in top, top
    probe.click(['Find session…'])
    open_window('Find session')
    xdotool('type', '--delay', '20', 'needle-user')
    time.sleep(0.5)
    xdotool('key', 'Return')
    show = lambda: json.loads(subprocess.run([CREDTRAY, 'session', 'show', 'needle-user', '--json'], env=benv,
                                             text=True, capture_output=True, check=True).stdout)
    wait_for('needle-user to be active', lambda: show()['state'] == 'active', 60)
    out = subprocess.run([os.environ['CREDTRAY_TEST_AWS'], 'sts', 'get-caller-identity', '--profile', 'needle'],
                         text=True, env=benv, capture_output=True)
    assert out.returncode == 0 and ':user/' in out.stdout, out
    wait_for('the active session on the top level', lambda: any(l.startswith('● needle-user') for l in labels()), 30)
    # Pin one from deep inside All sessions ▸: it comes to the top level.
    assert not any(l.startswith('○ session-0003 ') for l in labels())
    probe.click(['All sessions*', 'team-3 (*', 'session-0003 – *', '○ session-0003 *', 'Pin to the top'])
    wait_for('the pinned session on the top level', lambda: any(l.startswith('○ session-0003 ') for l in labels()), 30)
    assert len(labels()) <= 30, labels()
    big_tray.terminate()
    big_tray.wait(timeout=10)


@step('i: with no tray host the tray says so once, on stderr and in a toast, keeps running, and registers when a host starts')
def _():
    watcher.terminate()
    watcher.wait(timeout=10)
    base, _, ienv = another_user('nohost')
    log = os.path.join(base, 'tray.log')
    lone = background([CREDTRAY], log, ienv)
    wait_for('the warning on stderr', lambda: 'no system tray was found' in open(log).read(), 30)
    wait_for('the toast', lambda: toasts('No system tray found'))
    time.sleep(1)
    assert lone.poll() is None, open(log).read()
    said = [l for l in open(log).read().splitlines() if l.startswith('credtray-tray: no system tray was found')]
    assert len(said) == 1, said
    host_log = os.path.join(base, 'watcher.log')
    background(['/usr/bin/python3', os.path.join(HERE, 'watcher.py')], host_log)
    wait_for('the icon to register with the new host', lambda: 'REGISTERED' in open(host_log).read(), 60)
    assert lone.poll() is None
    lone.terminate()
    lone.wait(timeout=10)

stop_processes()
failed = [name for name, error in results if error]
if failed:
    print(open(tray_log).read()[-4000:])
print(f'{len(results) - len(failed)} passed, {len(failed)} failed')
sys.exit(1 if failed else 0)
