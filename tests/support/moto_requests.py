"""The STS requests moto received while its recorder ran, as what went over the wire.

    moto_requests.py ENDPOINT start   starts moto's request recorder (it keeps running)
    moto_requests.py ENDPOINT show    prints each recorded request's form body, one per line

moto writes its recording to MOTO_RECORDER_FILEPATH (set by scripts/test); bodies are stored
base64-encoded and are decoded here.
"""
import base64
import json
import sys
import urllib.error
import urllib.request

endpoint, command = sys.argv[1], sys.argv[2]
if command == "start":
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/recorder/start-recording", method="POST"))
elif command == "show":
    try:
        text = urllib.request.urlopen(f"{endpoint}/moto-api/recorder/download-recording").read().decode()
    except urllib.error.HTTPError:
        text = ""  # nothing recorded yet: moto has no recording file to read

    for line in text.splitlines():
        entry = json.loads(line)
        body = entry.get("body") or ""
        if entry.get("body_encoded"):
            body = base64.b64decode(body).decode("utf-8", "replace")
        print(body)
else:
    sys.exit(f"unknown command {command!r}")
