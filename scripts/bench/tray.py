"""The measuring half of scripts/bench/tray (inside its Xvfb and D-Bus session)."""
import os
import re
import statistics
import subprocess
import sys
import time
import uuid

root, scratch = sys.argv[1], sys.argv[2]
credtray = os.environ.get('CREDTRAY_BIN', os.path.join(root, 'target/release/credtray'))
bare = os.path.join(root, 'target/release/examples/bare_tray')
watcher_log = os.path.join(scratch, 'watcher.log')
watcher = subprocess.Popen(['/usr/bin/python3', os.path.join(root, 'tests/tray/watcher.py')],
                           stdout=open(watcher_log, 'w'), stderr=subprocess.STDOUT)
while 'WATCHER_READY' not in open(watcher_log).read():
    time.sleep(0.05)


def registrations():
    return [float(l.split()[1]) for l in open(watcher_log) if l.startswith('REGISTERED')]


def rss_kib(pid):
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])


def store(n, path):
    """A config.toml of n federated sessions over 20 profiles and a few regions."""
    os.makedirs(path, exist_ok=True)
    profiles = [f'team-{i}' for i in range(20)]
    regions = ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'us-west-2', 'eu-central-1']
    out = ['version = 1', 'profiles = [' + ', '.join(f'"{p}"' for p in ['default'] + profiles) + ']', '']
    for i in range(n):
        out += ['[[session]]', f'id = "{uuid.uuid4()}"', f'alias = "session-{i:04d}"', 'kind = "iam-role-federated"',
                f'profile = "{profiles[i % 20]}"', f'region = "{regions[i % 5]}"', 'state = "inactive"',
                f'role_arn = "arn:aws:iam::123456789012:role/r{i}"', 'saml_url = "https://idp.example.com/saml"',
                'idp_arn = "arn:aws:iam::123456789012:saml-provider/idp"', '']
    with open(os.path.join(path, 'config.toml'), 'w') as f:
        f.write('\n'.join(out))


def launch(args, env, log):
    before = len(registrations())
    start = time.time()
    p = subprocess.Popen(args, env=env, stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    while len(registrations()) == before:
        if p.poll() is not None:
            raise SystemExit(f'{args[0]} exited: {open(log).read()[-2000:]}')
        time.sleep(0.005)
    registered = registrations()[-1] - start
    time.sleep(2)  # let it settle into idle
    return p, registered, rss_kib(p.pid)


def stop(p):
    p.terminate()
    p.wait(timeout=10)


env = dict(os.environ)
p, t_bare, rss_bare = launch([bare], env, os.path.join(scratch, 'bare.log'))
stop(p)
print(f'bare tao + tray-icon app:  RSS {rss_bare / 1024:6.1f} MiB, menu on the bus after {t_bare * 1000:6.0f} ms')

for n in (10, 2000):
    cfg = os.path.join(scratch, f'config-{n}')
    store(n, cfg)
    log = os.path.join(scratch, f'tray-{n}.log')
    env = dict(os.environ, CREDTRAY_CONFIG_DIR=cfg, CREDTRAY_LOG=os.environ.get('BENCH_LOG', 'info'))
    p, t, rss = launch([credtray], env, log)
    print(f'credtray, {n:4d} sessions:  RSS {rss / 1024:6.1f} MiB ({rss / rss_bare:.2f}x bare), '
          f'menu on the bus after {t * 1000:6.0f} ms')
    if n == 2000:
        # One state change at a time, as the store records it: a session becomes active, then not.
        path = os.path.join(cfg, 'config.toml')
        samples, models, renders = [], [], []
        for i in range(10):
            text = open(path).read()
            old, new = ('state = "inactive"', 'state = "active"') if i % 2 == 0 else ('state = "active"', 'state = "inactive"')
            seen = len(re.findall(r'applied a state change', open(log).read()))
            tmp = path + '.tmp'
            with open(tmp, 'w') as f:
                f.write(text.replace(old, new, 1))
            os.replace(tmp, path)
            deadline = time.time() + 10
            while len(re.findall(r'applied a state change', open(log).read())) == seen and time.time() < deadline:
                time.sleep(0.05)
            lines = re.findall(r'applied a state change to the menu elapsed_us=(\d+) model_us=(\d+) render_us=(\d+) updated=(\d+) rebuilt=(\d+)', open(log).read())
            samples.append(int(lines[-1][0]) / 1000)
            models.append(int(lines[-1][1]) / 1000)
            renders.append(int(lines[-1][2]) / 1000)
            time.sleep(0.3)
        print(f'one state change on the 2000-session menu: median {statistics.median(samples):.1f} ms, '
              f'max {max(samples):.1f} ms over {len(samples)} (of which building the model from the catalog: '
              f'median {statistics.median(models):.1f} ms; diffing and patching muda items: median '
              f'{statistics.median(renders):.1f} ms; the rest is the icon and tooltip)')
    stop(p)
watcher.terminate()
