"""Conformance check: the SSO stub (sso_stub.py) speaks AWS's dialect to the real botocore.

    python sso_stub_check.py [--url URL] [-k SUBSTRING]

Starts its own stub (or uses the one at URL), then drives it with boto3's `sso-oidc` and `sso`
clients: every check resets the stub first. Prints `ok <check>` or `FAIL <check>` and a
traceback per check, and exits 1 if any failed. With CREDTRAY_TEST_MOTO set (scripts/test sets
it) it also uses the stub's role credentials against moto's STS.

What it pins (beyond "the call returned"): botocore raises the *modelled* exception class for
each error (which it can only do from the x-amzn-ErrorType header: the OIDC body's `error` is
not read), 403 Forbidden is unmodelled and surfaces as a plain ClientError, the paginators walk
every page, `expiration` parses as epoch milliseconds, and botocore's own retries on 429/500
show in the stub's request log.
"""
import argparse
import datetime
import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

import boto3
import botocore.exceptions
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
START_URL = "https://d-1234567890.awsapps.com/start"
NO_RETRIES = Config(retries={"total_max_attempts": 1})

URL = None
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


# --- the stub's control API ---------------------------------------------------------------------
def control(path, body=None):
    """POSTs `body` (default {}) to the control API; GET for /_stub/log and /_stub/state."""
    get = path.startswith(("/_stub/log", "/_stub/state"))
    data = None if get else json.dumps(body or {}).encode()
    req = urllib.request.Request(URL + path, data=data, method="GET" if get else "POST")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"{}")


def config(**knobs):
    return control("/_stub/config", knobs)


def log(operation=None):
    entries = control("/_stub/log")["requests"]
    return [e for e in entries if operation is None or e["operation"] == operation]


def raw(method, path, headers=None):
    """A hand-made request: (status, headers, body) even for errors."""
    req = urllib.request.Request(URL + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# --- clients and flows --------------------------------------------------------------------------
def oidc(cfg=None):
    return boto3.client("sso-oidc", endpoint_url=URL, region_name="eu-west-1", config=cfg)


def portal(cfg=None):
    return boto3.client("sso", endpoint_url=URL, region_name="eu-west-1", config=cfg)


def register(client, scopes=("sso:account:access",), **extra):
    kwargs = dict(clientName="credtray-check", clientType="public", **extra)
    if scopes:
        kwargs["scopes"] = list(scopes)
    return client.register_client(**kwargs)


def poll(client, reg, device):
    return client.create_token(clientId=reg["clientId"], clientSecret=reg["clientSecret"],
                               grantType=DEVICE, deviceCode=device["deviceCode"])


def refresh(client, reg, refresh_token):
    return client.create_token(clientId=reg["clientId"], clientSecret=reg["clientSecret"],
                               grantType="refresh_token", refreshToken=refresh_token)


def login(scopes=("sso:account:access",)):
    """A finished device login (auto-approved): (oidc client, registration, token)."""
    config(auto_approve_after=0)
    client = oidc()
    reg = register(client, scopes)
    device = client.start_device_authorization(clientId=reg["clientId"], clientSecret=reg["clientSecret"],
                                               startUrl=START_URL)
    return client, reg, poll(client, reg, device)


def raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError(f"expected {exc_type}, got no error")


def modelled(client, name):
    return getattr(client.exceptions, name)


# --- OIDC -----------------------------------------------------------------------------------------
@check
def register_client_answers_ids_and_epoch_seconds():
    client = oidc()
    before = int(time.time())
    reg = register(client)
    assert reg["clientId"] and reg["clientSecret"]
    assert before <= reg["clientIdIssuedAt"] <= before + 5, reg
    assert reg["clientSecretExpiresAt"] - reg["clientIdIssuedAt"] == 90 * 24 * 3600, reg
    e = raises(modelled(client, "InvalidClientMetadataException"), client.register_client,
               clientName="x", clientType="confidential")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@check
def device_flow_pending_slow_down_approve_and_reuse():
    # An interval long enough that an immediate second poll is "too fast" even on a busy machine.
    config(interval=3)
    client = oidc()
    reg = register(client)
    device = client.start_device_authorization(clientId=reg["clientId"], clientSecret=reg["clientSecret"],
                                               startUrl=START_URL)
    assert device["interval"] == 3 and device["expiresIn"] == 600, device
    assert len(device["userCode"]) == 9 and device["userCode"][4] == "-", device
    assert device["verificationUriComplete"].endswith(device["userCode"]), device
    assert control("/_stub/state")["pendingUserCodes"] == [device["userCode"]]

    e = raises(client.exceptions.AuthorizationPendingException, poll, client, reg, device)
    # botocore keeps the OIDC members and (through its sso-oidc handler) turns error_description
    # into the message.
    assert e.response["error"] == "authorization_pending", e.response
    assert e.response["Error"]["Message"] == "Authorization is still pending", e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    e = raises(client.exceptions.SlowDownException, poll, client, reg, device)
    assert e.response["error"] == "slow_down"

    assert control("/_stub/approve", {"userCode": device["userCode"]}) == {"approved": [device["userCode"]]}
    time.sleep(device["interval"] + 0.1)
    out = poll(client, reg, device)
    assert out["tokenType"] == "Bearer" and out["expiresIn"] == 3600, out
    assert out["accessToken"] and out["refreshToken"], out

    time.sleep(device["interval"] + 0.1)
    e = raises(client.exceptions.InvalidGrantException, poll, client, reg, device)
    assert e.response["error"] == "invalid_grant"
    assert [(x["operation"], x["status"], x["error"]) for x in log("CreateToken")] == [
        ("CreateToken", 400, "AuthorizationPendingException"),
        ("CreateToken", 400, "SlowDownException"),
        ("CreateToken", 200, None),
        ("CreateToken", 400, "InvalidGrantException"),
    ]
    assert log("CreateToken")[0]["grantType"] == DEVICE


@check
def auto_approve_after_n_polls_and_no_refresh_token_without_scopes():
    config(auto_approve_after=2, interval=0)
    client = oidc()
    reg = register(client, scopes=())
    device = client.start_device_authorization(clientId=reg["clientId"], clientSecret=reg["clientSecret"],
                                               startUrl=START_URL)
    assert device["interval"] == 0
    for _ in range(2):
        raises(client.exceptions.AuthorizationPendingException, poll, client, reg, device)
    out = poll(client, reg, device)
    assert "refreshToken" not in out, out
    config(slow_down_next=1)
    device = client.start_device_authorization(clientId=reg["clientId"], clientSecret=reg["clientSecret"],
                                               startUrl=START_URL)
    raises(client.exceptions.SlowDownException, poll, client, reg, device)


@check
def denied_and_expired_device_codes():
    client = oidc()
    reg = register(client)
    start = dict(clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=START_URL)
    denied = client.start_device_authorization(**start)
    control("/_stub/deny", {"userCode": denied["userCode"]})
    e = raises(client.exceptions.AccessDeniedException, poll, client, reg, denied)
    assert e.response["error"] == "access_denied"
    late = client.start_device_authorization(**start)
    config(clock_offset=601)
    e = raises(client.exceptions.ExpiredTokenException, poll, client, reg, late)
    assert e.response["error"] == "expired_token"


@check
def wrong_secret_is_invalid_client_401():
    client = oidc()
    reg = register(client)
    e = raises(client.exceptions.InvalidClientException, client.start_device_authorization,
               clientId=reg["clientId"], clientSecret="wrong", startUrl=START_URL)
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    assert e.response["error"] == "invalid_client"
    _, reg, tok = login()
    bad = dict(reg, clientSecret="wrong")
    e = raises(client.exceptions.InvalidClientException, refresh, client, bad, tok["refreshToken"])
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    # An expired registration is refused the same way.
    config(clock_offset=91 * 24 * 3600)
    raises(client.exceptions.InvalidClientException, refresh, client, reg, tok["refreshToken"])


@check
def unsupported_grant_type():
    client, reg, _ = login()
    e = raises(client.exceptions.UnsupportedGrantTypeException, client.create_token,
               clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType="authorization_code",
               code="x", redirectUri="http://127.0.0.1/cb", codeVerifier="v")
    assert e.response["error"] == "unsupported_grant_type"


@check
def refresh_rotates_and_retires_the_old_refresh_token():
    client, reg, tok = login()
    new = refresh(client, reg, tok["refreshToken"])
    assert new["accessToken"] != tok["accessToken"] and new["refreshToken"] != tok["refreshToken"], new
    assert new["tokenType"] == "Bearer" and new["expiresIn"] == 3600
    e = raises(client.exceptions.InvalidGrantException, refresh, client, reg, tok["refreshToken"])
    assert e.response["error"] == "invalid_grant"
    # Both access tokens still work on the portal.
    sso = portal()
    for access in (tok["accessToken"], new["accessToken"]):
        assert sso.list_accounts(accessToken=access)["accountList"]
    newer = refresh(client, reg, new["refreshToken"])
    assert newer["refreshToken"] not in (tok["refreshToken"], new["refreshToken"])
    assert [e["grantType"] for e in log("CreateToken")] == [DEVICE, "refresh_token", "refresh_token", "refresh_token"]


@check
def refresh_knobs_no_rotation_omitted_ended_session():
    client, reg, tok = login()
    config(rotate_refresh_tokens=False)
    again = refresh(client, reg, tok["refreshToken"])
    assert again["refreshToken"] == tok["refreshToken"]
    refresh(client, reg, tok["refreshToken"])
    config(omit_refresh_token=True)
    omitted = refresh(client, reg, tok["refreshToken"])
    assert "refreshToken" not in omitted and omitted["accessToken"]
    refresh(client, reg, tok["refreshToken"])

    control("/_stub/end_sessions", {})
    raises(client.exceptions.InvalidGrantException, refresh, client, reg, tok["refreshToken"])
    raises(portal().exceptions.UnauthorizedException, portal().list_accounts, accessToken=omitted["accessToken"])

    # The portal session's length (session_ttl) ends refreshes too.
    control("/_stub/reset")
    client, reg, tok = login()
    config(clock_offset=8 * 3600 + 1)
    raises(client.exceptions.InvalidGrantException, refresh, client, reg, tok["refreshToken"])


# --- portal -------------------------------------------------------------------------------------
@check
def paginators_walk_every_page():
    config(generate={"accounts": 7, "roles_per_account": 3})
    _, _, tok = login()
    sso = portal()
    pages = list(sso.get_paginator("list_accounts").paginate(accessToken=tok["accessToken"]))
    assert [len(p["accountList"]) for p in pages] == [2, 2, 2, 1], pages
    accounts = [a for p in pages for a in p["accountList"]]
    assert len({a["accountId"] for a in accounts}) == 7
    assert accounts[0] == {"accountId": "100000000000", "accountName": "account-0001",
                           "emailAddress": "account-0001@example.com"}, accounts[0]
    assert "nextToken" not in pages[-1]
    # max_result as credtray sends it: the stub's page size still caps the page.
    pages = list(sso.get_paginator("list_accounts").paginate(
        accessToken=tok["accessToken"], PaginationConfig={"PageSize": 100}))
    assert len(pages) == 4
    assert log("ListAccounts")[-1]["query"]["max_result"] == "100"

    roles = list(sso.get_paginator("list_account_roles").paginate(
        accessToken=tok["accessToken"], accountId="100000000003"))
    assert [r for p in roles for r in p["roleList"]] == [
        {"roleName": f"Role{i}", "accountId": "100000000003"} for i in (1, 2, 3)], roles
    assert len(roles) == 2
    # build_full_result() is how most callers use a paginator.
    full = sso.get_paginator("list_accounts").paginate(accessToken=tok["accessToken"]).build_full_result()
    assert len(full["accountList"]) == 7


@check
def bad_pagination_parameters_and_unknown_account():
    _, _, tok = login()
    sso = portal(NO_RETRIES)
    e = raises(sso.exceptions.InvalidRequestException, sso.list_accounts, accessToken=tok["accessToken"],
               maxResults=101)
    assert "1-100" in e.response["Error"]["Message"]
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # botocore refuses 0 itself (the model's min is 1): send it by hand.
    status, headers, body = raw("GET", "/assignment/accounts?max_result=0",
                                {"x-amz-sso_bearer_token": tok["accessToken"]})
    assert status == 400 and headers["x-amzn-ErrorType"].startswith("InvalidRequestException:"), (status, body)
    assert "message" in json.loads(body)
    raises(sso.exceptions.InvalidRequestException, sso.list_accounts, accessToken=tok["accessToken"],
           nextToken="not-a-token")
    e = raises(sso.exceptions.ResourceNotFoundException, sso.list_account_roles,
               accessToken=tok["accessToken"], accountId="999999999999")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    raises(sso.exceptions.ResourceNotFoundException, sso.get_role_credentials,
           accessToken=tok["accessToken"], accountId="999999999999", roleName="ReadOnlyAccess")


@check
def role_credentials_in_epoch_milliseconds():
    _, _, tok = login()
    sso = portal()
    before = time.time()
    creds = sso.get_role_credentials(accessToken=tok["accessToken"], accountId="111111111111",
                                     roleName="AdministratorAccess")["roleCredentials"]
    assert creds["accessKeyId"].startswith("ASIA") and len(creds["accessKeyId"]) == 20, creds
    assert creds["secretAccessKey"] and creds["sessionToken"]
    assert isinstance(creds["expiration"], int)
    assert (before + 3600) * 1000 - 5000 <= creds["expiration"] <= (time.time() + 3600) * 1000 + 5000, creds
    other = sso.get_role_credentials(accessToken=tok["accessToken"], accountId="111111111111",
                                     roleName="AdministratorAccess")["roleCredentials"]
    assert other["accessKeyId"] != creds["accessKeyId"]
    config(role_credentials_ttl=900)
    short = sso.get_role_credentials(accessToken=tok["accessToken"], accountId="111111111111",
                                     roleName="ReadOnlyAccess")["roleCredentials"]
    assert short["expiration"] - time.time() * 1000 < 901 * 1000


@check
def unassigned_role_is_an_unmodelled_403_forbidden():
    _, _, tok = login()
    sso = portal(NO_RETRIES)
    e = raises(botocore.exceptions.ClientError, sso.get_role_credentials, accessToken=tok["accessToken"],
               accountId="222222222222", roleName="AdministratorAccess")
    assert e.response["Error"] == {"Code": "ForbiddenException", "Message": "No access"}, e.response
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    modelled_classes = tuple(getattr(sso.exceptions, n) for n in (
        "InvalidRequestException", "UnauthorizedException", "TooManyRequestsException",
        "ResourceNotFoundException"))
    assert not isinstance(e, modelled_classes) and type(e) is botocore.exceptions.ClientError, type(e)


@check
def assignments_change_between_syncs():
    _, _, tok = login()
    sso = portal()
    roles = lambda acct: [r["roleName"] for p in sso.get_paginator("list_account_roles").paginate(
        accessToken=tok["accessToken"], accountId=acct) for r in p["roleList"]]
    assert roles("111111111111") == ["AdministratorAccess", "ReadOnlyAccess"]
    control("/_stub/unassign", {"accountId": "111111111111", "roleName": "AdministratorAccess"})
    control("/_stub/assign", {"accountId": "111111111111", "roleName": "Billing"})
    control("/_stub/assign", {"accountId": "444444444444", "accountName": "new", "roleName": "ReadOnlyAccess"})
    control("/_stub/unassign", {"accountId": "222222222222"})
    assert roles("111111111111") == ["Billing", "ReadOnlyAccess"]
    raises(botocore.exceptions.ClientError, sso.get_role_credentials, accessToken=tok["accessToken"],
           accountId="111111111111", roleName="AdministratorAccess")
    ids = [a["accountId"] for p in sso.get_paginator("list_accounts").paginate(accessToken=tok["accessToken"])
           for a in p["accountList"]]
    assert ids == ["111111111111", "333333333333", "444444444444"], ids


@check
def unauthorized_when_missing_unknown_expired_or_logged_out():
    client, reg, tok = login()
    sso = portal(NO_RETRIES)
    status, headers, body = raw("GET", "/assignment/accounts")
    assert status == 401 and json.loads(body) == {"message": "Session token not found or invalid"}
    assert headers["x-amzn-ErrorType"].split(":")[0] == "UnauthorizedException"
    e = raises(sso.exceptions.UnauthorizedException, sso.list_accounts, accessToken="nope")
    assert e.response["Error"]["Message"] == "Session token not found or invalid"
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 401

    control("/_stub/expire_access_tokens")
    raises(sso.exceptions.UnauthorizedException, sso.list_accounts, accessToken=tok["accessToken"])
    fresh = refresh(client, reg, tok["refreshToken"])
    assert sso.list_accounts(accessToken=fresh["accessToken"])["accountList"]
    config(clock_offset=3601)
    raises(sso.exceptions.UnauthorizedException, sso.list_accounts, accessToken=fresh["accessToken"])
    config(clock_offset=0)

    assert sso.logout(accessToken=fresh["accessToken"])["ResponseMetadata"]["HTTPStatusCode"] == 200
    raises(sso.exceptions.UnauthorizedException, sso.list_accounts, accessToken=fresh["accessToken"])
    raises(sso.exceptions.UnauthorizedException, sso.logout, accessToken=fresh["accessToken"])
    raises(client.exceptions.InvalidGrantException, refresh, client, reg, fresh["refreshToken"])
    status, _, body = raw("POST", "/logout")
    assert status == 401


@check
def throttling_429_and_botocores_own_retries():
    _, _, tok = login()
    # botocore's default (legacy) retry mode retries a 429 by itself: 2 throttles, then success.
    config(throttle_next=2)
    out = portal().list_accounts(accessToken=tok["accessToken"])
    assert out["ResponseMetadata"]["RetryAttempts"] == 2, out["ResponseMetadata"]
    assert [e["status"] for e in log("ListAccounts")] == [429, 429, 200]

    config(throttle_next=1, retry_after=7)
    sso = portal(NO_RETRIES)
    e = raises(sso.exceptions.TooManyRequestsException, sso.list_accounts, accessToken=tok["accessToken"])
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert e.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "7"
    assert e.response["Error"]["Message"] == "Rate exceeded"
    # Throttling comes before the token check, as at AWS's front door.
    config(throttle_next=1)
    raises(sso.exceptions.TooManyRequestsException, sso.list_accounts, accessToken="nope")


@check
def token_bucket_limits_the_rate():
    _, _, tok = login()
    config(throttle={"rate": 5, "burst": 5})
    control("/_stub/clear_log")
    # Hammered over one kept-alive connection (faster than botocore, so a busy machine still
    # outruns the bucket) for at least 1.5 s and until 10 calls were refused.
    conn = http.client.HTTPConnection(URL.removeprefix("http://"), timeout=30)
    begin, refused = time.monotonic(), 0
    while (time.monotonic() - begin < 1.5 or refused < 10) and time.monotonic() - begin < 20:
        conn.request("GET", "/assignment/accounts", headers={"x-amz-sso_bearer_token": tok["accessToken"]})
        r = conn.getresponse()
        r.read()
        refused += r.status == 429
    conn.close()
    entries = log("ListAccounts")
    ok = [e for e in entries if e["status"] == 200]
    assert all(e["status"] in (200, 429) for e in entries)
    assert all(e["error"] == "TooManyRequestsException" for e in entries if e["status"] == 429)
    span = entries[-1]["start"] - entries[0]["start"]
    # The burst at once, then about `rate` per second; tolerances, not exact counts.
    assert len(ok) >= 5 + int(5 * span) - 2, (len(ok), span)
    assert len(ok) <= 5 + 5 * span + 1, (len(ok), span)
    assert [e["status"] for e in entries[:5]] == [200] * 5
    assert len(entries) > len(ok) + 5, "the loop never hit the limit"


@check
def injected_role_listing_failures():
    _, _, tok = login()
    config(fail_roles={"333333333333": 500, "111111111111": 429})
    sso = portal(NO_RETRIES)
    e = raises(botocore.exceptions.ClientError, sso.list_account_roles, accessToken=tok["accessToken"],
               accountId="333333333333")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert e.response["Error"]["Code"] == "InternalServerException"
    raises(sso.exceptions.TooManyRequestsException, sso.list_account_roles, accessToken=tok["accessToken"],
           accountId="111111111111")
    assert sso.list_account_roles(accessToken=tok["accessToken"], accountId="222222222222")["roleList"]
    # botocore's default retries try a 500 and a 429 five times in all, then give up.
    control("/_stub/clear_log")
    retrying = portal(Config(retries={"mode": "legacy", "max_attempts": 2}))
    raises(botocore.exceptions.ClientError, retrying.list_account_roles, accessToken=tok["accessToken"],
           accountId="333333333333")
    assert [e["status"] for e in log("ListAccountRoles")] == [500, 500, 500]


@check
def log_shows_concurrency_and_timing():
    _, _, tok = login()
    config(delay=0.3)
    control("/_stub/clear_log")
    # Clients made up front: boto3's default session is not thread-safe.
    threads = [threading.Thread(target=lambda c=portal(): c.list_accounts(accessToken=tok["accessToken"]))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = log("ListAccounts")
    assert len(entries) == 4
    assert max(e["inflight"] for e in entries) >= 2, entries
    for e in entries:
        assert e["end"] - e["start"] >= 0.3 and abs(e["time"] - time.time()) < 30, e
        assert e["method"] == "GET" and e["path"] == "/assignment/accounts"
    since = entries[1]["seq"]
    assert [e["seq"] for e in control(f"/_stub/log?since={since}")["requests"]] == [x["seq"] for x in entries[2:]]


@check
def latency_is_drawn_per_call_for_portal_and_oidc_and_keeps_calls_concurrent():
    _, _, tok = login()
    config(latency={"min": 0.2, "max": 0.6}, throttle={"rate": 1, "burst": 1})
    control("/_stub/clear_log")
    register(oidc())
    clients = [portal(NO_RETRIES) for _ in range(8)]  # made up front: boto3's default session is not thread-safe
    threads = [threading.Thread(target=lambda c=c: raises(Exception, c.list_accounts, accessToken="nobody"))
               for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = {e["operation"]: [] for e in log()}
    for e in log():
        took[e["operation"]].append(e["end"] - e["start"])
    assert len(took["RegisterClient"]) == 1 and len(took["ListAccounts"]) == 8, took
    # Every call waits min..max (a little more for the work itself), throttled or refused too.
    assert all(0.2 <= t < 0.6 + 0.2 for ts in took.values() for t in ts), took
    # Drawn per call, not one fixed wait (8 draws from 0.4 s within 50 ms of each other: ~1e-5).
    assert max(took["ListAccounts"]) - min(took["ListAccounts"]) > 0.05, took
    assert {e["status"] for e in log("ListAccounts")} == {401, 429}, log("ListAccounts")
    assert max(e["inflight"] for e in log("ListAccounts")) >= 4, log("ListAccounts")
    # Bad values are refused and change nothing; null turns it off.
    for bad in ({"min": 0.3, "max": 0.2}, {"min": -0.1, "max": 0.2}, {"min": 0.1}, {"min": "0.1", "max": 1},
                {"min": 0.1, "max": 0.2, "mean": 0.15}, {"min": True, "max": 1}, 0.05, [0.1, 0.2]):
        req = urllib.request.Request(URL + "/_stub/config", data=json.dumps({"latency": bad}).encode(),
                                     method="POST")
        try:
            urllib.request.urlopen(req)
            raise AssertionError(f"latency {bad!r} was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 400, (bad, e.code)
    assert config()["latency"] == {"min": 0.2, "max": 0.6}
    assert config(latency=None)["latency"] is None
    control("/_stub/clear_log")
    register(oidc())
    assert log()[0]["end"] - log()[0]["start"] < 0.2, log()


@check
def control_api_refuses_unknown_knobs():
    status, _, _ = raw("POST", "/_stub/approve")  # nothing pending
    assert status == 404
    req = urllib.request.Request(URL + "/_stub/config", data=b'{"pagesize": 3}', method="POST")
    try:
        urllib.request.urlopen(req)
        raise AssertionError("a misspelt knob was accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 400
    status, headers, _ = raw("GET", "/nowhere")
    assert status == 404 and "x-amzn-ErrorType" in headers


# --- botocore's own SSO credential provider, and moto --------------------------------------------
@check
def botocore_sso_profile_refreshes_and_gets_role_credentials_through_the_stub():
    """The path `aws` takes for an sso-session profile: cached token (5 minutes left, so inside
    botocore's 15-minute refresh window) -> CreateToken refresh grant -> GetRoleCredentials."""
    client, reg, tok = login()
    with tempfile.TemporaryDirectory() as home:
        os.makedirs(f"{home}/.aws/sso/cache")
        with open(f"{home}/.aws/config", "w") as f:
            f.write(f"[sso-session corp]\nsso_start_url = {START_URL}\nsso_region = eu-west-1\n"
                    "sso_registration_scopes = sso:account:access\n\n"
                    "[profile dev]\nsso_session = corp\nsso_account_id = 111111111111\n"
                    "sso_role_name = ReadOnlyAccess\nregion = eu-west-1\n")
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
        cache = f"{home}/.aws/sso/cache/{hashlib.sha1(b'corp').hexdigest()}.json"
        with open(cache, "w") as f:
            json.dump({"startUrl": START_URL, "region": "eu-west-1", "accessToken": tok["accessToken"],
                       "expiresAt": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "refreshToken": tok["refreshToken"],
                       "clientId": reg["clientId"], "clientSecret": reg["clientSecret"],
                       "registrationExpiresAt": (expires + datetime.timedelta(days=80)).strftime(
                           "%Y-%m-%dT%H:%M:%SZ")}, f)
        # A fresh interpreter: botocore fixes the token cache directory from HOME at import.
        env = dict(os.environ, HOME=home, AWS_CONFIG_FILE=f"{home}/.aws/config", AWS_ENDPOINT_URL_SSO=URL,
                   AWS_ENDPOINT_URL_SSO_OIDC=URL)
        out = subprocess.run([sys.executable, "-c", "import boto3, json; c = boto3.Session(profile_name='dev')"
                              ".get_credentials().get_frozen_credentials(); print(c.access_key)"],
                             env=env, capture_output=True, text=True, timeout=60)
        with open(cache) as f:
            cached = json.load(f)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ASIA"), out.stdout
    assert [(e["operation"], e.get("grantType"), e["status"]) for e in log()[-2:]] == [
        ("CreateToken", "refresh_token", 200), ("GetRoleCredentials", None, 200)], log()
    assert log()[-1]["query"] == {"role_name": "ReadOnlyAccess", "account_id": "111111111111"}
    # botocore wrote the rotated refresh token back; the one it replaced is retired.
    assert cached["refreshToken"] != tok["refreshToken"] and cached["accessToken"] != tok["accessToken"]
    raises(client.exceptions.InvalidGrantException, refresh, client, reg, tok["refreshToken"])
    assert refresh(client, reg, cached["refreshToken"])["accessToken"]


@check
def role_credentials_work_against_moto():
    moto = os.environ.get("CREDTRAY_TEST_MOTO")
    if not moto:
        print("  (skipped: CREDTRAY_TEST_MOTO is not set)")
        return
    _, _, tok = login()
    sso = portal()

    def caller(creds):
        sts = boto3.client("sts", endpoint_url=moto, region_name="us-east-1",
                           aws_access_key_id=creds["accessKeyId"], aws_secret_access_key=creds["secretAccessKey"],
                           aws_session_token=creds["sessionToken"])
        return sts.get_caller_identity()["Arn"]

    # moto takes any key: random stub credentials get its default identity.
    random_creds = sso.get_role_credentials(accessToken=tok["accessToken"], accountId="111111111111",
                                            roleName="ReadOnlyAccess")["roleCredentials"]
    assert caller(random_creds).endswith(":user/moto"), caller(random_creds)
    # Credentials the test got from moto, configured for a role, keep their identity.
    sts = boto3.client("sts", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    assumed = sts.assume_role(RoleArn="arn:aws:iam::111111111111:role/ReadOnlyAccess",
                              RoleSessionName="sso-stub")["Credentials"]
    control("/_stub/assign", {"accountId": "111111111111", "roleName": "ReadOnlyAccess", "credentials": {
        "accessKeyId": assumed["AccessKeyId"], "secretAccessKey": assumed["SecretAccessKey"],
        "sessionToken": assumed["SessionToken"]}})
    creds = sso.get_role_credentials(accessToken=tok["accessToken"], accountId="111111111111",
                                     roleName="ReadOnlyAccess")["roleCredentials"]
    assert creds["accessKeyId"] == assumed["AccessKeyId"]
    arn = caller(creds)
    assert arn == "arn:aws:sts::111111111111:assumed-role/ReadOnlyAccess/sso-stub", arn


def main():
    global URL
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("-k", dest="only", default="")
    args = parser.parse_args()
    for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC"):
        os.environ.pop(k, None)
    stub = None
    try:
        if args.url:
            URL = args.url
        else:
            stub = subprocess.Popen([sys.executable, os.path.join(HERE, "sso_stub.py"), "--watch-stdin"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            line = stub.stdout.readline()
            assert line.startswith("SSO_STUB_READY "), f"the stub said {line!r}"
            URL = line.split()[1]
        failed = []
        for fn in CHECKS:
            if args.only not in fn.__name__:
                continue
            control("/_stub/reset")
            try:
                fn()
                print(f"ok {fn.__name__}", flush=True)
            except Exception:
                failed.append(fn.__name__)
                print(f"FAIL {fn.__name__}", flush=True)
                traceback.print_exc(file=sys.stdout)
        print(f"{len(failed)} failed: {failed}" if failed else "all checks passed", flush=True)
        return 1 if failed else 0
    finally:
        if stub is not None:
            stub.terminate()
            try:
                stub.wait(timeout=10)
            except subprocess.TimeoutExpired:
                stub.kill()
                stub.wait()


if __name__ == "__main__":
    sys.exit(main())
