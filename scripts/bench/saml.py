"""The measuring half of scripts/bench/saml (inside its Xvfb, D-Bus session and keychain)."""
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse

root, scratch = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(root, 'tests', 'tray'))
import probe  # noqa: E402

credtray = os.path.join(root, 'target/release/credtray')
tray_bin = os.path.join(root, 'target/release/credtray-login')
python = sys.argv[3]  # the venv's, with boto3 (moto's fixtures); this one has gi (the tray's menu)
RUNS = 10


def run(*args, check=True):
    return subprocess.run([credtray, *args], text=True, capture_output=True, check=check)


def rss_kib(pid):
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])


def wait_for(what, check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise SystemExit(f'timed out waiting for {what}')


def forget_cached(session_id):
    """The role credentials cache gone, so the next start logs in (silently) again."""
    subprocess.run(['secret-tool', 'clear', 'service', 'credtray', 'username', f'{session_id}-role-credentials'],
                   check=True)


fixtures = json.loads(subprocess.check_output(
    [python, os.path.join(root, 'tests/support/moto_fixtures.py'), os.environ['AWS_ENDPOINT_URL'], 'bench']))
idp_log = os.path.join(scratch, 'idp.log')
idp = subprocess.Popen(['/usr/bin/python3', os.path.join(root, 'tests/support/fake_idp.py'), idp_log],
                       stdout=subprocess.PIPE, text=True)
url = f"http://127.0.0.1:{idp.stdout.readline().split()[-1]}/start?" + urllib.parse.urlencode(
    {'login': '1', 'role': fixtures['federated_role_arn'], 'idp': fixtures['idp_arn']})
run('session', 'add', 'iam-role-federated', '--alias', 'fed', '--profile', 'fed', '--role-arn',
    fixtures['federated_role_arn'], '--idp-arn', fixtures['idp_arn'], '--saml-url', url)
sid = json.loads(run('session', 'show', 'fed', '--json').stdout)['id']

# The first login is typed, as a person would; it leaves the IdP's cookie.
first = subprocess.Popen([credtray, 'session', 'start', 'fed'], text=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
window = subprocess.run(['xdotool', 'search', '--sync', '--onlyvisible', '--name', 'for session fed$'],
                        capture_output=True, text=True, timeout=30).stdout.split()[0]
subprocess.run(['xdotool', 'windowactivate', '--sync', window], check=True)
subprocess.run(['xdotool', 'type', 'jane'], check=True)
subprocess.run(['xdotool', 'key', 'Tab'], check=True)
subprocess.run(['xdotool', 'type', 'secret'], check=True)
subprocess.run(['xdotool', 'key', 'Return'], check=True)
assert first.wait(timeout=60) == 0, first.stderr.read()

# The silent path, end to end through the CLI: start -> login child -> AssumeRoleWithSAML -> files.
starts = []
for _ in range(RUNS):
    run('session', 'stop', 'fed')
    forget_cached(sid)
    t = time.perf_counter()
    run('session', 'start', 'fed')
    starts.append((time.perf_counter() - t) * 1000)
# The login child alone (WebKit up, page loaded, SAMLResponse captured), and its peak memory.
children, peaks = [], []
# What the engine's process gives the child (it reads nothing itself): the cookie directory is
# credtray/idp/<SHA-256 of the URL> in the data directory.
data = os.environ.get('XDG_DATA_HOME') or os.path.join(os.environ['HOME'], '.local/share')
cookies = os.path.join(data, 'credtray', 'idp', hashlib.sha256(url.encode()).hexdigest())
login_args = ['--saml-login', sid, '--alias', 'fed', '--url', url, '--timeout', '300', '--cookies', cookies]
for _ in range(RUNS):
    t = time.perf_counter()
    out = subprocess.run(['/usr/bin/time', '-f', '%M', tray_bin, *login_args, '--hidden-only'],
                         capture_output=True, text=True)
    children.append((time.perf_counter() - t) * 1000)
    assert out.returncode == 0 and out.stdout, out.stderr[-500:]
    peaks.append(int(out.stderr.strip().splitlines()[-1]))
assert open(idp_log).read().count('LOGIN') == 1, 'every login after the first was silent'


def stats(name, xs, unit='ms'):
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    print(f'{name}: median {statistics.median(xs):.0f} {unit}, p95 {p95:.0f} {unit}, min {xs[0]:.0f} {unit} over {len(xs)}')


stats('session start, silent SAML login (cookie alive), to credentials written', starts)
stats('login child alone (credtray-login --saml-login, hidden)', children)
print(f'login child peak RSS (its own process only; WebKit\'s web and network processes are extra): '
      f'median {statistics.median(peaks) / 1024:.1f} MiB')

# The tray: resident memory idle, then after ten logins through its menu.
run('session', 'stop', 'fed')
watcher_log = os.path.join(scratch, 'watcher.log')
watcher = subprocess.Popen(['/usr/bin/python3', os.path.join(root, 'tests/tray/watcher.py')],
                           stdout=open(watcher_log, 'w'), stderr=subprocess.STDOUT)
wait_for('the watcher', lambda: 'WATCHER_READY' in open(watcher_log).read())
tray = subprocess.Popen([tray_bin], stdout=open(os.path.join(scratch, 'tray.log'), 'w'), stderr=subprocess.STDOUT)
wait_for('the tray', lambda: 'REGISTERED' in open(watcher_log).read())
labels = lambda: [k['label'] for k in probe.tree()['children']]
wait_for('the menu', lambda: any(l.startswith('○ fed') for l in labels()))
time.sleep(3)
idle = rss_kib(tray.pid)


def logins(n):
    for _ in range(n):
        forget_cached(sid)
        probe.click(['○ fed*', 'Start'])
        wait_for('fed active', lambda: any(l.startswith('● fed') for l in labels()))
        probe.click(['● fed*', 'Stop'])
        wait_for('fed inactive', lambda: any(l.startswith('○ fed') for l in labels()))
    time.sleep(3)
    return rss_kib(tray.pid)


# The first start allocates what any first start does (the STS client, the keychain connection).
first_login = logins(1)
after_10 = logins(RUNS)
after_20 = logins(RUNS)
assert open(idp_log).read().count('LOGIN') == 1
mib = lambda k: f'{k / 1024:.1f} MiB'
print(f'tray RSS idle: {mib(idle)} at start, {mib(first_login)} after its first SAML login, '
      f'{mib(after_10)} after {RUNS} more ({(after_10 - first_login) / 1024:+.1f} MiB), '
      f'{mib(after_20)} after {2 * RUNS} more ({(after_20 - first_login) / 1024:+.1f} MiB)')
tray.terminate()
tray.wait(timeout=10)
watcher.terminate()
idp.terminate()
