"""The measuring half of scripts/bench/engine (run inside its Secret Service and moto)."""
import json
import os
import statistics
import subprocess
import sys
import time

import boto3

credtray, fixtures = sys.argv[1], sys.argv[2]
endpoint = os.environ["AWS_ENDPOINT_URL"]
f = json.loads(subprocess.check_output([sys.executable, fixtures, endpoint, "bench"]))


def run(*args, stdin=""):
    subprocess.run([credtray, *args], input=stdin, text=True, check=True, capture_output=True)


def timed(fn, n):
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), sorted(samples)[int(n * 0.95) - 1]


run("session", "add", "iam-user", "--alias", "bench", "--profile", "bench", "--access-key-id", "-",
    "--secret-access-key", "-", stdin=f"{f['access_key_id']}\n{f['secret_access_key']}\n")
run("session", "chain", "bench", "--role-arn", f["role_arn"], "--alias", "chained", "--profile", "chained")

sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id=f["access_key_id"], aws_secret_access_key=f["secret_access_key"])
sts.get_session_token()  # warm the connection pool and boto3's caches
N = 20
boto_gst, _ = timed(lambda: sts.get_session_token(DurationSeconds=43200), N)
creds = sts.get_session_token()["Credentials"]
chained_sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                           aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
boto_ar, _ = timed(lambda: chained_sts.assume_role(RoleArn=f["role_arn"], RoleSessionName="bench", DurationSeconds=3600), N)


def cold_start():
    # Editing the keys drops the cached token, so the start makes its GetSessionToken call.
    run("session", "edit", "bench", "--access-key-id", "-", stdin=f"{f['access_key_id']}\n")
    run("session", "start", "bench")


edit_only, _ = timed(lambda: run("session", "edit", "bench", "--access-key-id", "-", stdin=f"{f['access_key_id']}\n"), N)
cold, cold95 = timed(cold_start, N)
warm, warm95 = timed(lambda: run("session", "start", "bench"), N)
chained, chained95 = timed(lambda: run("session", "start", "chained"), N)
cp, cp95 = timed(lambda: run("credential-process", "--session", "bench"), 50)
cpc, cpc95 = timed(lambda: run("credential-process", "--session", "chained"), 50)
noop, _ = timed(lambda: run("session", "list"), N)

print(f"boto3 GetSessionToken to moto (warm client):        median {boto_gst:6.1f} ms")
print(f"boto3 AssumeRole to moto (warm client):             median {boto_ar:6.1f} ms")
print(f"credtray session list (process floor):              median {noop:6.1f} ms")
print(f"credtray session start, IAM user, no cached token:  median {cold - edit_only:6.1f} ms "
      f"(start alone; the edit that drops the token took {edit_only:.1f} ms)")
print(f"  engine overhead beyond the STS round-trip:        median {cold - edit_only - boto_gst:6.1f} ms")
print(f"credtray session start, IAM user, cached token:     median {warm:6.1f} ms, p95 {warm95:.1f} ms")
print(f"credtray session start, chained (cached parent):    median {chained:6.1f} ms, p95 {chained95:.1f} ms")
print(f"  engine overhead beyond the AssumeRole round-trip: median {chained - boto_ar:6.1f} ms")
print(f"credtray credential-process, IAM user (warm):       median {cp:6.1f} ms, p95 {cp95:.1f} ms")
print(f"credtray credential-process, chained (warm parent): median {cpc:6.1f} ms, p95 {cpc95:.1f} ms")
