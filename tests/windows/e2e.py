#!/usr/bin/env python3
"""credtray's Windows build end to end, under wine, driven from Linux.

The agent's pipe is named after %LOCALAPPDATA%, which wine sets itself (whatever the
environment says): every agent of the prefix shares one pipe, so each step stops the agent or
tray it started before the next one starts, and scripts/windows-test starts a fresh wine
server (no process of an earlier run left) first.

A Windows program under wine can't start Linux programs, so this harness runs
`wine credtray.exe …` itself and checks the results with Linux tools: the real AWS CLI reads
the profiles credtray.exe wrote, and wine's `reg` reads Windows' Credential Manager (wine keeps
it in the registry) to see which secrets exist.

Run by scripts/windows-test (which sets up the wine prefix) after the Linux suite, with moto
running (CREDTRAY_TEST_MOTO), the AWS CLI and Python from the test venv (CREDTRAY_TEST_AWS,
CREDTRAY_TEST_PYTHON) and an X display (DISPLAY) for the tray. Every step is printed; the
exit status is the number of failed steps (0: all passed).
"""
import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("CREDTRAY_WIN_BIN", ROOT / "target/x86_64-pc-windows-gnu/debug"))
MOTO = os.environ["CREDTRAY_TEST_MOTO"]
AWS = os.environ["CREDTRAY_TEST_AWS"]
PYTHON = os.environ["CREDTRAY_TEST_PYTHON"]

scratch = Path(tempfile.mkdtemp(prefix="credtray-windows-"))
failures = []
started = []  # processes to stop at the end, whatever happens


def stop_started():
    """Stops every agent and tray a step started (one whose step failed may still run: it
    would hold the prefix's one agent pipe for the next step)."""
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()
    started.clear()


@atexit.register
def _stop_what_was_started():
    stop_started()
    shutil.rmtree(scratch, ignore_errors=True)


def win(path: Path) -> str:
    """A Linux path as Windows programs under wine name it (drive Z: is /)."""
    return "Z:" + str(path).replace("/", "\\")


def closed_port() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


ENV = {
    **os.environ,
    "WINEDEBUG": "-all",
    # No offer to install wine's Mono or Gecko: on a display, that box would wait for a click.
    "WINEDLLOVERRIDES": "mscoree,mshtml=",
    "CREDTRAY_CONFIG_DIR": win(scratch / "config"),
    "AWS_SHARED_CREDENTIALS_FILE": win(scratch / "aws/credentials"),
    "AWS_CONFIG_FILE": win(scratch / "aws/config"),
    "AWS_ENDPOINT_URL": MOTO,
    "CREDTRAY_LOG": "debug",
}
for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    ENV.pop(name, None)


def credtray(*args, stdin="", env=None, exe="credtray.exe", timeout=90):
    return subprocess.run(
        ["wine", str(BIN / exe), *args],
        input=stdin, capture_output=True, text=True, env={**ENV, **(env or {})}, timeout=timeout,
    )


def ok(run, what):
    if run.returncode != 0:
        raise AssertionError(f"{what}: exit {run.returncode}\nstdout: {run.stdout}\nstderr: {run.stderr[-3000:]}")
    return run


def credential_targets():
    """The targets of the generic credentials in wine's Credential Manager."""
    run = subprocess.run(["wine", "reg", "query", r"HKCU\Software\Wine\Credential Manager"],
                         capture_output=True, text=True, env=ENV, timeout=60)
    return [line.strip() for line in run.stdout.splitlines() if "credtray" in line.lower()]


def step(name):
    def wrap(fn):
        t = time.monotonic()
        try:
            fn()
            print(f"ok   {name} ({time.monotonic() - t:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001 — every failure is reported, the run goes on
            failures.append(name)
            print(f"FAIL {name}: {e}", flush=True)
        return fn
    return wrap


fixtures = json.loads(subprocess.run(
    [PYTHON, str(ROOT / "tests/support/moto_fixtures.py"), MOTO, f"win{os.getpid()}"],
    check=True, capture_output=True, text=True).stdout)
ids = {}


@step("session add iam-user with its keys on stdin: the keys go to the Credential Manager")
def _():
    before = set(credential_targets())
    ok(credtray("session", "add", "iam-user", "--alias", "win-dev", "--profile", "win-dev",
                "--region", "eu-west-1", "--access-key-id", "-", "--secret-access-key", "-",
                stdin=f"{fixtures['access_key_id']}\n{fixtures['secret_access_key']}\n"), "add")
    sessions = json.loads(ok(credtray("session", "list", "--json"), "list").stdout)
    dev = next(s for s in sessions if s["alias"] == "win-dev")
    ids["dev"] = dev["id"]
    added = set(credential_targets()) - before
    assert any(dev["id"] in t for t in added), f"no Credential Manager entry for {dev['id']}: {added}"
    assert fixtures["secret_access_key"] not in json.dumps(sessions), "a secret in --json"
    config = Path(scratch / "config/config.toml").read_text()
    assert fixtures["secret_access_key"] not in config and fixtures["access_key_id"] not in config


@step("a chained session starts against moto and the Linux AWS CLI uses its profile")
def _():
    ok(credtray("session", "add", "iam-role-chained", "--alias", "win-admin", "--profile",
                "win-admin", "--region", "eu-west-1", "--role-arn", fixtures["role_arn"],
                "--assumer", "win-dev"), "add chained")
    ok(credtray("session", "start", "win-admin"), "start")
    run = subprocess.run(
        [AWS, "sts", "get-caller-identity", "--profile", "win-admin", "--output", "json"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "aws/credentials"),
             "AWS_CONFIG_FILE": str(scratch / "aws/config"), "AWS_ENDPOINT_URL": MOTO})
    ok(run, "aws sts get-caller-identity")
    arn = json.loads(run.stdout)["Arn"]
    role = fixtures["role_arn"].rsplit("/", 1)[1]
    assert f"assumed-role/{role}/" in arn, arn


def process_document(run):
    ok(run, "credential-process")
    doc = json.loads(run.stdout)
    assert doc["Version"] == 1 and doc["AccessKeyId"].startswith("ASIA") and doc["SessionToken"], doc
    return doc


@step("credential-process without an agent does the work itself (and can't without STS)")
def _():
    process_document(credtray("credential-process", "--session", "win-admin"))
    # A session never started has nothing cached: without STS, and no agent, no answer.
    ok(credtray("session", "add", "iam-role-chained", "--alias", "win-ro", "--region", "eu-west-1",
                "--role-arn", fixtures["deeper_role_arn"], "--assumer", "win-dev"), "add win-ro")
    dead = credtray("credential-process", "--session", "win-ro", env={"AWS_ENDPOINT_URL": closed_port()})
    assert dead.returncode != 0, "it answered without STS and without an agent"


@step("credential-process with the agent (a named pipe) is answered from the agent's memory")
def _():
    stop_started()
    log = open(scratch / "agent.log", "w")
    agent = subprocess.Popen(["wine", str(BIN / "credtray.exe"), "agent"], env=ENV,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    started.append(agent)
    deadline = time.monotonic() + 60
    while "the agent is listening" not in (scratch / "agent.log").read_text():
        assert agent.poll() is None and time.monotonic() < deadline, (scratch / "agent.log").read_text()
        time.sleep(0.2)
    dead = {"AWS_ENDPOINT_URL": closed_port()}
    while True:
        run = credtray("credential-process", "--session", "win-ro", env=dead)
        if run.returncode == 0 or time.monotonic() > deadline or agent.poll() is not None:
            break
        time.sleep(0.5)
    process_document(run)
    # A second agent is told who holds the pipe.
    second = credtray("agent", timeout=60)
    assert second.returncode != 0 and "another credtray agent is running" in second.stderr, second.stderr
    agent.terminate()
    agent.wait(timeout=30)
    text = (scratch / "agent.log").read_text()
    assert "the agent is listening" in text, text[-2000:]
    assert r"\\.\pipe\credtray-S-1-" in text, text[-2000:]


@step("exec -- cmd /c exit 3 returns 3, and the command gets the credentials endpoint")
def _():
    run = credtray("exec", "win-admin", "--", "cmd", "/c", "exit 3")
    assert run.returncode == 3, f"exit {run.returncode}: {run.stderr[-2000:]}"
    run = credtray("exec", "win-admin", "--", "cmd", "/c",
                   "if defined AWS_CONTAINER_CREDENTIALS_FULL_URI (exit 0) else (exit 9)")
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    run = credtray("exec", "--env", "win-admin", "--", "cmd", "/c",
                   "if defined AWS_SESSION_TOKEN (exit 0) else (exit 9)")
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"


def tray_area_shown():
    return bool(subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "Wine System Tray"],
                               capture_output=True, text=True).stdout.strip())


@step("the tray starts under X, registers its icon (Shell_NotifyIcon), takes over from a headless agent and serves as the agent")
def _():
    stop_started()
    assert not tray_area_shown(), "wine's system tray shows an icon before the tray starts"
    # A headless agent first: the tray takes its place (it asks it to hand over, over the pipe).
    headless_log = scratch / "headless.log"
    headless = subprocess.Popen(["wine", str(BIN / "credtray.exe"), "agent"], env=ENV,
                                stdin=subprocess.DEVNULL, stdout=open(headless_log, "w"),
                                stderr=subprocess.STDOUT)
    started.append(headless)
    deadline = time.monotonic() + 60
    while "the agent is listening" not in headless_log.read_text():
        assert headless.poll() is None and time.monotonic() < deadline, headless_log.read_text()
        time.sleep(0.2)
    log_path = scratch / "tray.log"
    log = open(log_path, "w")
    tray = subprocess.Popen(["wine", str(BIN / "credtray-tray.exe")], env=ENV,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    started.append(tray)
    deadline = time.monotonic() + 60
    while "tray icon and menu registered" not in log_path.read_text() and time.monotonic() < deadline:
        assert tray.poll() is None, f"the tray exited: {log_path.read_text()[-2000:]}"
        time.sleep(0.3)
    text = log_path.read_text()
    assert "tray icon and menu registered" in text, text[-2000:]
    # tray-icon goes on when Shell_NotifyIcon fails (it waits for the taskbar): the proof is
    # wine's notification area, a window it shows only while it holds an icon.
    deadline = time.monotonic() + 30
    while not tray_area_shown() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert tray_area_shown(), "wine's system tray shows no icon"
    try:
        headless.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the headless agent did not hand over: {log_path.read_text()[-2000:]}")
    assert "the agent handed over and stops" in headless_log.read_text(), headless_log.read_text()
    deadline = time.monotonic() + 30
    while "the agent is listening" not in log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "the agent is listening" in log_path.read_text(), log_path.read_text()[-2000:]
    # Its agent answers for a session never started, without STS of the client's own.
    ok(credtray("session", "add", "iam-role-chained", "--alias", "win-tray", "--region", "eu-west-1",
                "--role-arn", fixtures["deeper_role_arn"], "--assumer", "win-dev"), "add win-tray")
    process_document(credtray("credential-process", "--session", "win-tray",
                              env={"AWS_ENDPOINT_URL": closed_port()}))
    tray.terminate()
    tray.wait(timeout=30)


@step("a first run's import offer is a Windows message box; answered Yes (xdotool), it imports")
def _():
    stop_started()
    home = scratch / "first-run"
    (home / "aws").mkdir(parents=True)
    (home / "aws/credentials").write_text(
        f"[imported]\naws_access_key_id = {fixtures['access_key_id']}\n"
        f"aws_secret_access_key = {fixtures['secret_access_key']}\n")
    (home / "aws/config").write_text("[profile imported]\nregion = eu-west-1\n")
    env = {"CREDTRAY_CONFIG_DIR": win(home / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": win(home / "aws/credentials"),
           "AWS_CONFIG_FILE": win(home / "aws/config")}
    log_path = home / "tray.log"
    tray = subprocess.Popen(["wine", str(BIN / "credtray-tray.exe")], env={**ENV, **env},
                            stdin=subprocess.DEVNULL, stdout=open(log_path, "w"),
                            stderr=subprocess.STDOUT)
    started.append(tray)
    window, deadline = "", time.monotonic() + 60
    while not window and time.monotonic() < deadline:
        assert tray.poll() is None, f"the tray exited: {log_path.read_text()[-2000:]}"
        window = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "Import your AWS profiles"],
                                capture_output=True, text=True).stdout.split("\n")[0]
        time.sleep(0.3)
    assert window, f"no import offer appeared: {log_path.read_text()[-2000:]}"
    # The box waits for its answer: nothing is imported yet.
    assert json.loads(ok(credtray("session", "list", "--json", env=env), "list").stdout) == []
    subprocess.run(["xdotool", "windowactivate", "--sync", window], timeout=10)
    subprocess.run(["xdotool", "windowfocus", "--sync", window], timeout=10)
    # MB_YESNO: Yes is the default button, which Return presses (in the focused box).
    subprocess.run(["xdotool", "key", "Return"], check=True, timeout=10)
    deadline = time.monotonic() + 60
    sessions = []
    while time.monotonic() < deadline:
        run = credtray("session", "list", "--json", env=env)
        sessions = json.loads(run.stdout) if run.returncode == 0 else []
        if sessions:
            break
        time.sleep(0.5)
    assert [s["alias"] for s in sessions] == ["imported"], (sessions, log_path.read_text()[-2000:])
    assert (home / "config/import-offered").exists(), \
        sorted(p.name for p in (home / "config").iterdir())
    tray.terminate()
    tray.wait(timeout=30)


@step("session delete removes the sessions' Credential Manager entries")
def _():
    ok(credtray("session", "delete", "--cascade", "win-dev"), "delete")
    left = [t for t in credential_targets() if ids["dev"] in t]
    assert not left, f"left in the Credential Manager: {left}"
    sessions = json.loads(ok(credtray("session", "list", "--json"), "list").stdout)
    assert not sessions, sessions


@step("with no overrides the store is %APPDATA%\\credtray and profiles go to %USERPROFILE%\\.aws")
def _():
    import pwd
    prefix = Path(os.environ["WINEPREFIX"]) / "drive_c/users" / pwd.getpwuid(os.getuid()).pw_name
    store = prefix / "AppData/Roaming/credtray/config.toml"
    credentials = prefix / ".aws/credentials"
    overrides = ("CREDTRAY_CONFIG_DIR", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")
    plain = {k: v for k, v in ENV.items() if k not in overrides}
    alias = f"win-default-{os.getpid()}"

    def run(*args, stdin=""):
        return subprocess.run(["wine", str(BIN / "credtray.exe"), *args], input=stdin,
                              capture_output=True, text=True, env=plain, timeout=90)
    try:
        ok(run("session", "add", "iam-user", "--alias", alias, "--profile", alias, "--region",
               "eu-west-1", "--access-key-id", "-", "--secret-access-key", "-",
               stdin=f"{fixtures['access_key_id']}\n{fixtures['secret_access_key']}\n"), "add")
        assert alias in store.read_text(), f"not in {store}"
        ok(run("session", "start", alias), "start")
        assert f"[{alias}]" in credentials.read_text(), f"no [{alias}] in {credentials}"
    finally:
        run("session", "delete", alias)
    assert f"[{alias}]" not in credentials.read_text()


@step("the Windows zip holds what it says, and its login window loads only with WebView2Loader.dll")
def _():
    import zipfile
    zips = list((ROOT / "target/windows").glob("credtray-*-windows-x64.zip"))
    assert len(zips) == 1, f"scripts/package --windows made {zips}"
    with zipfile.ZipFile(zips[0]) as z:
        z.extractall(scratch / "unzipped")
    top = next((scratch / "unzipped").iterdir())
    names = sorted(p.name for p in top.iterdir())
    assert names == ["INSTALL.txt", "README.md", "WebView2Loader.dll", "credtray-login.exe",
                     "credtray-tray.exe", "credtray.exe"], names
    assert b"\r\n" in (top / "INSTALL.txt").read_bytes()
    for exe in ("credtray.exe", "credtray-login.exe"):
        run = subprocess.run(["wine", str(top / exe), "--version"], capture_output=True, text=True,
                             env=ENV, timeout=60)
        ok(run, f"{exe} --version")
        assert run.stdout.startswith(exe.removesuffix(".exe") + " "), run.stdout
    (top / "WebView2Loader.dll").unlink()
    run = subprocess.run(["wine", str(top / "credtray-login.exe"), "--version"], capture_output=True,
                         text=True, env=ENV, timeout=60)
    assert run.returncode != 0, "credtray-login.exe ran without WebView2Loader.dll: is it still needed?"


print(f"windows e2e: {len(failures)} failed" + (f": {', '.join(failures)}" if failures else ""))
sys.exit(min(len(failures), 100))
