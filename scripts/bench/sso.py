"""The measuring half of scripts/bench/sso (run inside its Secret Service): issue 25's four
scenarios for an IAM Identity Center sync of 500 accounts x 3 roles against the local stub
(tests/support/sso_stub.py) answering each call after 30-80 ms, each run several times from a
fresh pace, then one table of the medians beside the bounds the issue sets.

    python sso.py CREDTRAY_CLI ROOT [SCENARIO ...]

Scenarios (all by default): 20/s, 8/s, unthrottled, second. Environment:
CREDTRAY_BENCH_RUNS (runs per scenario, 3), CREDTRAY_BENCH_KEEP (a directory: each run's stub
log is written there as JSON, to read a throttled timeline afterwards).

A fresh pace: every run gets its own store (CREDTRAY_CONFIG_DIR) and HOME, adds the
integration and logs in while the stub lists no accounts (a login syncs, and a sync of 500
accounts would teach the pace before the run), then drops the pace that little sync stored
(pace_rate and pace_ceiling in config.toml), so the measured sync starts from the default
pace as the first sync of a new integration does. Reconfiguring the stub's throttle refills
its token bucket. `second` does a first sync, then measures the sync right after it, which
starts from what the first learned.
"""
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

CLI, ROOT = sys.argv[1], sys.argv[2]
RUNS = int(os.environ.get("CREDTRAY_BENCH_RUNS", "3"))
KEEP = os.environ.get("CREDTRAY_BENCH_KEEP")
ACCOUNTS, ROLES, PAGE = 500, 3, 100
LATENCY = {"min": 0.03, "max": 0.08}
# The requests a sync needs: the account list's pages, then one role page per account.
NEEDED = math.ceil(ACCOUNTS / PAGE) + ACCOUNTS
SYNC_TIMEOUT = 600  # seconds; a sync that takes longer is stopped and reported as failed


class Scenario:
    def __init__(self, name, title, rate, bound, what, first_sync=False):
        self.name, self.title, self.rate, self.first_sync = name, title, rate, first_sync
        self.bound, self.what = bound, what  # what: "seconds" (and 0 failed) or "throttled"

    def floor(self):
        return NEEDED / self.rate if self.rate else None


def scenarios():
    return [
        Scenario("20/s", "stub allowing 20/s (burst 20)", 20, 1.25 * NEEDED / 20, "seconds"),
        Scenario("8/s", "stub allowing 8/s (burst 8)", 8, 1.3 * NEEDED / 8, "seconds"),
        Scenario("unthrottled", "stub that never throttles", None, 8.0, "seconds"),
        Scenario("second", "second sync right after the first, 20/s", 20, 5, "throttled", first_sync=True),
    ]


class Stub:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, f"{ROOT}/tests/support/sso_stub.py", "--watch-stdin"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("SSO_STUB_READY "):
            raise SystemExit(f"scripts/bench/sso: the stub said {line!r}")
        self.url = line.split()[1]

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_stub/{path}", data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait()


class Store:
    """A fresh store and HOME with the integration `corp` logged in and no learned pace."""

    def __init__(self, stub, scratch, label):
        self.dir = tempfile.mkdtemp(prefix=label.replace("/s", "-per-s") + "-", dir=scratch)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("AWS_") and k not in ("CREDTRAY_CONFIG_DIR", "HOME")}
        self.env.update(HOME=f"{self.dir}/home", CREDTRAY_CONFIG_DIR=f"{self.dir}/config",
                        AWS_ENDPOINT_URL_SSO_OIDC=stub.url, AWS_ENDPOINT_URL_SSO=stub.url)
        os.makedirs(self.env["HOME"])
        stub.control("config", {"accounts": [], "throttle": None, "latency": LATENCY, "page_size": PAGE,
                                "auto_approve_after": 0, "interval": 1})
        self.cli("integration", "add", "aws-sso", "--alias", "corp", "--start-url", stub.url + "/start",
                 "--region", "eu-west-1")
        self.cli("integration", "login", "corp", "--no-browser")
        self.forget_pace()

    def cli(self, *args):
        subprocess.run([CLI, *args], env=self.env, check=True, capture_output=True, text=True, timeout=120)

    def config(self):
        with open(f"{self.env['CREDTRAY_CONFIG_DIR']}/config.toml") as f:
            return f.read()

    def forget_pace(self):
        text = self.config()
        kept = re.sub(r"(?m)^pace_(rate|ceiling) = .*\n", "", text)
        if "pace_rate" not in text or "pace_" in kept:
            raise SystemExit("scripts/bench/sso: the store holds no pace_rate after a login, or one this "
                             "script cannot drop; has the store's format changed?")
        with open(f"{self.env['CREDTRAY_CONFIG_DIR']}/config.toml", "w") as f:
            f.write(kept)

    def pace(self):
        found = dict(re.findall(r"(?m)^pace_(rate|ceiling) = (.*)$", self.config()))
        return f"{found.get('rate', '-')}/{found.get('ceiling', '-')}"

    def sync(self):
        """(seconds, failed accounts, the CLI's last line) of one `integration sync corp`."""
        start = time.perf_counter()
        try:
            out = subprocess.run([CLI, "integration", "sync", "corp"], env=self.env, capture_output=True,
                                 text=True, timeout=SYNC_TIMEOUT)
        except subprocess.TimeoutExpired:
            return time.perf_counter() - start, ACCOUNTS, f"stopped after {SYNC_TIMEOUT} s"
        took = time.perf_counter() - start
        if out.returncode == 0:
            return took, 0, out.stdout.strip().splitlines()[0]
        # Exit 1 with a report: some accounts could not be listed (the rest is applied).
        failed = re.search(r"(?m)^(\d+) account\(s\) could not be listed", out.stdout)
        if out.returncode == 1 and failed:
            return took, int(failed.group(1)), out.stdout.strip().splitlines()[0]
        # No report: the sync as a whole failed (e.g. the account list could not be read).
        why = (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1]
        return took, ACCOUNTS, f"sync failed (exit {out.returncode}): {why}"


def measure(stub, scratch, scenario, n):
    store = Store(stub, scratch, f"{scenario.name}-{n}")
    # Reconfiguring the throttle starts a full bucket.
    stub.control("config", {"generate": {"accounts": ACCOUNTS, "roles_per_account": ROLES},
                            "throttle": scenario.rate and {"rate": scenario.rate, "burst": scenario.rate}})
    stub.control("clear_log", {})
    if scenario.first_sync:
        took, failed, said = store.sync()
        first = summary(stub.control("log")["requests"])
        print(f"  {scenario.name} #{n} first sync: {took:5.1f} s, {first['requests']} requests, "
              f"{first['throttled']} throttled, {failed} failed; learned pace {store.pace()} (rate/ceiling)",
              flush=True)
    stub.control("clear_log", {})
    took, failed, said = store.sync()
    log = stub.control("log")["requests"]
    if KEEP:
        with open(os.path.join(KEEP, f"{scenario.name.replace('/s', '-per-s')}-{n}.json"), "w") as f:
            json.dump(log, f)
    run = dict(summary(log), seconds=took, failed=failed)
    print(f"  {scenario.name} #{n}: {took:5.1f} s, {run['requests']} requests ({run['answered']} answered), "
          f"{run['throttled']} throttled, {failed} failed, at most {run['inflight']} in flight; "
          f"learned pace {store.pace()}; {said}", flush=True)
    return run


def summary(log):
    portal = [e for e in log if e["operation"] in ("ListAccounts", "ListAccountRoles")]
    return {"requests": len(portal),
            "answered": sum(1 for e in portal if e["status"] == 200),
            "throttled": sum(1 for e in portal if e["status"] == 429),
            "inflight": max((e["inflight"] for e in portal), default=0)}


def verdict(scenario, runs, median):
    if scenario.what == "throttled":
        return f"throttled < {scenario.bound}", median["throttled"] < scenario.bound
    bound = f"<= {scenario.bound:.1f} s"
    if scenario.rate:
        bound += ", 0 failed"
    return bound, median["seconds"] <= scenario.bound and all(r["failed"] == 0 for r in runs)


def main():
    wanted = sys.argv[3:] or [s.name for s in scenarios()]
    chosen = [s for s in scenarios() if s.name in wanted]
    if len(chosen) != len(wanted):
        raise SystemExit(f"scripts/bench/sso: scenarios are {[s.name for s in scenarios()]}")
    if KEEP:
        os.makedirs(KEEP, exist_ok=True)
    scratch = os.environ["HOME"]
    stub = Stub()
    results = []
    try:
        print(f"{ACCOUNTS} accounts x {ROLES} roles, {NEEDED} portal requests needed, stub latency "
              f"{LATENCY['min'] * 1000:.0f}-{LATENCY['max'] * 1000:.0f} ms, {RUNS} run(s) per scenario",
              flush=True)
        for scenario in chosen:
            runs = [measure(stub, scratch, scenario, n + 1) for n in range(RUNS)]
            median = {k: statistics.median(r[k] for r in runs)
                      for k in ("seconds", "requests", "throttled", "failed", "inflight")}
            results.append((scenario, runs, median))
    finally:
        stub.stop()
    print()
    print(f"{f'medians of {RUNS} run(s)':<24}{'seconds':>7}  {'requests':>8}  {'throttled':>9}  {'failed':>6}  "
          f"{'in flight':>9}  {'floor':>8}  {'bound':<22} verdict")
    for scenario, runs, m in results:
        bound, ok = verdict(scenario, runs, m)
        floor = f"{scenario.floor():6.2f} s" if scenario.floor() else f"{'-':>8}"
        print(f"{scenario.name:<24}{m['seconds']:7.1f}  {m['requests']:8g}  {m['throttled']:9g}  {m['failed']:6g}  "
              f"{m['inflight']:9g}  {floor}  {bound:<22} {'PASS' if ok else 'FAIL'}")
    for scenario, _, _ in results:
        print(f"  {scenario.name}: {scenario.title}")


if __name__ == "__main__":
    main()
