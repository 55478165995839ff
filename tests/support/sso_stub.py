"""A local AWS IAM Identity Center for credtray's tests: its OIDC API and its portal API on one
port, speaking the wire dialect the AWS SDKs parse (checked against the real botocore by
sso_stub_check.py), plus a control API for the tests.

    python sso_stub.py [--port N] [--watch-stdin] [--verbose]

Listens on 127.0.0.1 (port N, or an ephemeral one) and prints one line on stdout once it accepts
connections:

    SSO_STUB_READY http://127.0.0.1:<port>

Point both `AWS_ENDPOINT_URL_SSO_OIDC` and `AWS_ENDPOINT_URL_SSO` at that URL. It exits on
SIGTERM/SIGINT and, with --watch-stdin, when its standard input reaches end of file (so a test
process that dies without cleaning up does not leave it running). Python standard library only.

AWS side (the real thing: the project's recipe sso-and-agent.md, sections 1, 2 and 6)
-------------------------------------------------------------------------------------
OIDC, rest-json, camelCase, unsigned:
  POST /client/register        RegisterClient: needs clientName and clientType "public"; answers
                               clientId, clientSecret, clientIdIssuedAt, clientSecretExpiresAt
                               (epoch seconds). Remembers scopes and grantTypes.
  POST /device_authorization   StartDeviceAuthorization: deviceCode, userCode ("ABCD-EFGH"
                               shape, random), verificationUri[Complete], expiresIn, interval.
  POST /token                  CreateToken, grantType
                               "urn:ietf:params:oauth:grant-type:device_code" or "refresh_token"
                               (anything else: UnsupportedGrantType; no PKCE).
  Device grant, per deviceCode, in this order:
    unknown client / wrong secret / expired registration -> 401 InvalidClient
    client registered grantTypes without this grant      -> 400 UnauthorizedClient
    unknown device code, another client's, or already used -> 400 InvalidGrant
    past expiresIn (stub clock)                          -> 400 ExpiredToken
    denied (/_stub/deny)                                 -> 400 AccessDenied
    polled sooner than `interval` after the previous poll (real time) or `slow_down_next` > 0
                                                         -> 400 SlowDown (the poll still counts
                                                            as the previous poll)
    approved (/_stub/approve, or more than `auto_approve_after` polls so far)
                                                         -> 200 {accessToken, tokenType "Bearer",
                                                            expiresIn, refreshToken}; refreshToken
                                                            only if the client registered scopes
    otherwise                                            -> 400 AuthorizationPending
  Refresh grant: a new access token and a new (rotated) refresh token; the old refresh token then
  gets InvalidGrant. Unknown/rotated/revoked refresh token, another client's, an ended session
  (/_stub/end_sessions) or one older than `session_ttl` -> 400 InvalidGrant.
  OIDC errors: status as modelled, header
    x-amzn-ErrorType: <Name>Exception:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/
  and body {"error": "<snake_case name>", "error_description": "..."}.

Portal, access token in header x-amz-sso_bearer_token:
  GET  /assignment/accounts?next_token=&max_result=          ListAccounts
  GET  /assignment/roles?account_id=&next_token=&max_result=  ListAccountRoles
  GET  /federation/credentials?account_id=&role_name=         GetRoleCredentials
  POST /logout                                                Logout (revokes the access token
                                                              and its session's refresh token)
  Checked in this order: throttling (429 TooManyRequestsException), the token (401
  UnauthorizedException "Session token not found or invalid": missing, unknown, expired on the
  stub clock, logged out or ended), injected failures (`fail_roles`), then the request:
  max_result not an integer in 1..100 or a bad next_token -> 400 InvalidRequestException;
  unknown account -> 404 ResourceNotFoundException (roles and credentials); a role not assigned
  in a known account -> 403 ForbiddenException {"message": "No access"} (unmodelled in the SDKs).
  Pages hold min(max_result, page_size) items; nextToken is opaque and absent on the last page.
  Credentials: fresh ASIA... keys per call (or the ones configured for that role), `expiration`
  in epoch MILLISECONDS = now + role_credentials_ttl.
  Portal errors: header x-amzn-ErrorType: <Name>Exception:http://internal.amazon.com/coral/
  com.amazonaws.switchboard.portal/ (the suffix is a guess; SDKs cut at ':') and body
  {"message": "..."}.

Every answer carries x-amzn-RequestId. Times: token and credential expiries use the stub clock
(real time + `clock_offset`); the poll interval and the token bucket use real monotonic time.

Control API (JSON in, JSON out; never logged, never throttled)
-------------------------------------------------------------
  POST /_stub/config      merge knobs (below); unknown knobs -> 400. Answers the knobs in force.
  POST /_stub/reset       everything back to the defaults: knobs, fixtures, clients, tokens, log.
  POST /_stub/approve     {"userCode": "ABCD-EFGH"} approves that device login; {} approves every
                          pending one. 404 if none matched. Answers {"approved": [userCodes]}.
  POST /_stub/deny        same shape: the next poll gets AccessDenied.
  POST /_stub/assign      {"accountId", "roleName"[, "accountName", "emailAddress"]}: adds the
                          role (and the account if new).
  POST /_stub/unassign    {"accountId"[, "roleName"]}: removes the role, or the whole account.
  POST /_stub/expire_access_tokens  every access token issued so far is expired (portal 401);
                          refresh tokens keep working.
  POST /_stub/end_sessions  every session ends: refresh -> InvalidGrant and (unless
                          {"keepAccessTokens": true}) access tokens -> 401.
  GET  /_stub/state       {"pendingUserCodes": [...], "clients": n, "accessTokens": n valid,
                          "refreshTokens": n valid, "accounts": n, "throttleNext": n}
  GET  /_stub/log         {"requests": [...]}: one entry per AWS call, in arrival order:
                          seq, operation (RegisterClient, ..., "Unknown"), method, path, query
                          (dict, first value of each parameter), status, error (the
                          x-amzn-ErrorType name, e.g. "TooManyRequestsException", or null),
                          grantType (CreateToken only), start and end (seconds since the stub
                          started, monotonic), time (wall clock, epoch seconds at arrival),
                          inflight (AWS calls being served when it arrived, itself included).
                          ?since=<seq> returns entries with a larger seq only.
  POST /_stub/clear_log   empties the log.

Knobs (POST /_stub/config; defaults in brackets)
  accounts              fixtures: [{"accountId": "111111111111", "accountName": "dev",
                        "emailAddress": "dev@example.com", "roles": ["ReadOnly", {"roleName":
                        "Admin", "credentials": {"accessKeyId", "secretAccessKey",
                        "sessionToken"[, "expiration" (epoch ms)]}}]}] - a role may carry fixed
                        credentials (e.g. keys the test got from moto's AssumeRole) that
                        GetRoleCredentials returns instead of random ones. Replaces all accounts.
                        [three accounts: 111111111111 dev (AdministratorAccess, ReadOnlyAccess),
                        222222222222 prod (ReadOnlyAccess), 333333333333 sandbox
                        (AdministratorAccess, PowerUserAccess, ReadOnlyAccess)]
  generate              {"accounts": 500, "roles_per_account": 3}: replaces the accounts with
                        generated ones: ids 100000000000 + i, names account-0001...,
                        emails account-0001@example.com, roles Role1..RoleN.
  page_size             the most items a page holds, whatever max_result asks [2]
  auto_approve_after    null: only /_stub/approve approves; N: the first N polls are pending and
                        poll N+1 gets the token (0: the first poll does) [null]
  interval              seconds, StartDeviceAuthorization's interval and the SlowDown threshold [1]
  enforce_interval      answer SlowDown to polls sooner than interval [true]
  slow_down_next        the next N device-grant polls get SlowDown [0]
  device_code_ttl       StartDeviceAuthorization's expiresIn, seconds [600]
  access_token_ttl      CreateToken's expiresIn, seconds [3600]
  registration_ttl      RegisterClient's clientSecretExpiresAt - now, seconds [7776000 = 90 d]
  session_ttl           seconds after the device login a refresh still works [28800 = 8 h]
  role_credentials_ttl  seconds [3600]
  clock_offset          seconds added to the stub clock (move time forward to expire things) [0]
  rotate_refresh_tokens refresh answers a new refresh token and retires the old one; false: it
                        answers the same one again [true]
  omit_refresh_token    refresh answers no refreshToken (the old one stays valid) [false]
  throttle              null, or a token bucket {"rate": 5, "burst": 5} over portal calls:
                        a call finding the bucket empty gets 429 [null]
  throttle_next         the next N portal calls get 429, bucket or not [0]
  retry_after           null, or seconds sent as Retry-After on every 429 [null]
  fail_roles            {"<accountId>": 500 or 429}: ListAccountRoles for that account always
                        fails with that status (500: InternalServerException) [{}]
  delay                 seconds every portal call waits before answering (so several are in
                        flight at once) [0]
  latency               null, or {"min": 0.03, "max": 0.08}: every portal and OIDC call also
                        waits a time drawn uniformly from min..max seconds (a real network and
                        service; 0 <= min <= max) before it is answered, throttled or not [null]
  verification_uri      ["https://device.sso.eu-west-1.amazonaws.com/"]
"""
import argparse
import base64
import json
import os
import random
import secrets
import signal
import string
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REFRESH_GRANT = "refresh_token"
OIDC_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
PORTAL_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/"

# OIDC exceptions: HTTP status (botocore's sso-oidc model) and the RFC 6749/8628 `error` value.
OIDC_ERRORS = {
    "AuthorizationPending": (400, "authorization_pending"),
    "SlowDown": (400, "slow_down"),
    "ExpiredToken": (400, "expired_token"),
    "InvalidGrant": (400, "invalid_grant"),
    "AccessDenied": (400, "access_denied"),
    "UnauthorizedClient": (400, "unauthorized_client"),
    "UnsupportedGrantType": (400, "unsupported_grant_type"),
    "InvalidRequest": (400, "invalid_request"),
    "InvalidClientMetadata": (400, "invalid_client_metadata"),
    "InvalidClient": (401, "invalid_client"),
    "InternalServer": (500, "server_error"),
}

DEFAULT_ACCOUNTS = [
    {"accountId": "111111111111", "accountName": "dev", "emailAddress": "dev@example.com",
     "roles": ["AdministratorAccess", "ReadOnlyAccess"]},
    {"accountId": "222222222222", "accountName": "prod", "emailAddress": "prod@example.com",
     "roles": ["ReadOnlyAccess"]},
    {"accountId": "333333333333", "accountName": "sandbox", "emailAddress": "sandbox@example.com",
     "roles": ["AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess"]},
]

DEFAULT_KNOBS = {
    "page_size": 2,
    "auto_approve_after": None,
    "interval": 1,
    "enforce_interval": True,
    "slow_down_next": 0,
    "device_code_ttl": 600,
    "access_token_ttl": 3600,
    "registration_ttl": 90 * 24 * 3600,
    "session_ttl": 8 * 3600,
    "role_credentials_ttl": 3600,
    "clock_offset": 0,
    "rotate_refresh_tokens": True,
    "omit_refresh_token": False,
    "throttle": None,
    "throttle_next": 0,
    "retry_after": None,
    "fail_roles": {},
    "delay": 0,
    "latency": None,
    "verification_uri": "https://device.sso.eu-west-1.amazonaws.com/",
}

PORTAL_ROUTES = {
    ("GET", "/assignment/accounts"): "ListAccounts",
    ("GET", "/assignment/roles"): "ListAccountRoles",
    ("GET", "/federation/credentials"): "GetRoleCredentials",
    ("POST", "/logout"): "Logout",
}
OIDC_ROUTES = {
    ("POST", "/client/register"): "RegisterClient",
    ("POST", "/device_authorization"): "StartDeviceAuthorization",
    ("POST", "/token"): "CreateToken",
}


class Failure(Exception):
    """An AWS error answer: the exception name without its `Exception` suffix, a message."""

    def __init__(self, name, message, status=None):
        super().__init__(message)
        self.name, self.message, self.status = name, message, status


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def token(prefix, n=32):
    return prefix + secrets.token_urlsafe(n)


def normalize_accounts(accounts):
    """Fixtures as {accountId: {accountId, accountName, emailAddress, roles: {name: creds|None}}}."""
    out = {}
    for a in accounts:
        if not isinstance(a, dict) or "accountId" not in a:
            raise ControlError(400, f"an account needs an accountId: {a!r}")
        roles = {}
        for r in a.get("roles", []):
            if isinstance(r, str):
                roles[r] = None
            elif isinstance(r, dict) and "roleName" in r:
                roles[r["roleName"]] = r.get("credentials")
            else:
                raise ControlError(400, f"a role is a name or {{roleName, credentials}}: {r!r}")
        account_id = str(a["accountId"])
        out[account_id] = {
            "accountId": account_id,
            "accountName": a.get("accountName", f"account-{account_id}"),
            "emailAddress": a.get("emailAddress", f"{account_id}@example.com"),
            "roles": roles,
        }
    return out


def check_latency(latency):
    """Refuses a `latency` knob that is not null or {"min", "max"} seconds, 0 <= min <= max."""
    if latency is None:
        return
    number = (int, float)
    if not (isinstance(latency, dict) and set(latency) == {"min", "max"}
            and all(isinstance(latency[k], number) and not isinstance(latency[k], bool) for k in latency)
            and 0 <= latency["min"] <= latency["max"]):
        raise ControlError(400, 'latency is null or {"min": s, "max": s} with 0 <= min <= max')


def generated_accounts(spec):
    n, m = int(spec.get("accounts", 0)), int(spec.get("roles_per_account", 1))
    return [{"accountId": str(100000000000 + i), "accountName": f"account-{i + 1:04d}",
             "emailAddress": f"account-{i + 1:04d}@example.com",
             "roles": [f"Role{j + 1}" for j in range(m)]} for i in range(n)]


class Stub:
    """All state, behind one lock. Handlers call into it; `delay` and `latency` are slept
    outside the lock (so calls stay concurrent)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.reset()

    def reset(self):
        self.knobs = json.loads(json.dumps(DEFAULT_KNOBS))
        self.accounts = normalize_accounts(DEFAULT_ACCOUNTS)
        self.clients = {}        # clientId -> {secret, scopes, grantTypes, expires}
        self.devices = {}        # deviceCode -> {clientId, userCode, expires, interval, state, ...}
        self.access_tokens = {}  # token -> {session, expires, revoked}
        self.refresh_tokens = {}  # token -> {session, clientId, valid}
        self.sessions = {}       # session id -> {started, ended}
        self.log = []
        self.seq = 0
        self.inflight = 0
        self.bucket = None       # (tokens, last refill, monotonic)

    # --- clocks ---------------------------------------------------------------------------
    def now(self):
        """The stub clock: what expiries are measured against."""
        return time.time() + float(self.knobs["clock_offset"])

    def mono(self):
        return time.monotonic() - self.started

    # --- control --------------------------------------------------------------------------
    def configure(self, body):
        unknown = set(body) - set(DEFAULT_KNOBS) - {"accounts", "generate"}
        if unknown:
            raise ControlError(400, f"unknown knobs: {sorted(unknown)}")
        if "accounts" in body and "generate" in body:
            raise ControlError(400, "give accounts or generate, not both")
        if "latency" in body:
            check_latency(body["latency"])
        if "accounts" in body:
            self.accounts = normalize_accounts(body["accounts"])
        if "generate" in body:
            self.accounts = normalize_accounts(generated_accounts(body["generate"]))
        for k, v in body.items():
            if k in DEFAULT_KNOBS:
                self.knobs[k] = v
        if "throttle" in body:
            self.bucket = None
        t = self.knobs["throttle"]
        if t is not None and not (isinstance(t, dict) and t.get("rate", 0) > 0 and t.get("burst", 0) >= 1):
            raise ControlError(400, "throttle is null or {rate > 0, burst >= 1}")
        return dict(self.knobs, accounts=len(self.accounts))

    def decide(self, body, verdict):
        code = body.get("userCode")
        hit = [d for d in self.devices.values()
               if d["state"] == "pending" and (code is None or d["userCode"] == code)]
        if not hit:
            raise ControlError(404, f"no pending device login with userCode {code!r}")
        for d in hit:
            d["state"] = verdict
        return {verdict: [d["userCode"] for d in hit]}

    def assign(self, body):
        account_id = str(body["accountId"])
        account = self.accounts.get(account_id)
        if account is None:
            account = normalize_accounts([{k: body[k] for k in ("accountId", "accountName", "emailAddress")
                                           if k in body}])[account_id]
            self.accounts[account_id] = account
        if "roleName" in body:
            account["roles"][body["roleName"]] = body.get("credentials")
        return {"accounts": len(self.accounts)}

    def unassign(self, body):
        account_id = str(body["accountId"])
        if account_id not in self.accounts:
            raise ControlError(404, f"no account {account_id}")
        if "roleName" in body:
            if self.accounts[account_id]["roles"].pop(body["roleName"], False) is False:
                raise ControlError(404, f"no role {body['roleName']} in {account_id}")
        else:
            del self.accounts[account_id]
        return {"accounts": len(self.accounts)}

    def state(self):
        now = self.now()
        return {
            "pendingUserCodes": [d["userCode"] for d in self.devices.values() if d["state"] == "pending"],
            "clients": len(self.clients),
            "accessTokens": sum(1 for t in self.access_tokens.values() if self.token_valid(t, now)),
            "refreshTokens": sum(1 for t in self.refresh_tokens.values()
                                 if t["valid"] and not self.sessions[t["session"]]["ended"]),
            "accounts": len(self.accounts),
            "throttleNext": self.knobs["throttle_next"],
        }

    def token_valid(self, t, now):
        return not t["revoked"] and now < t["expires"] and not self.sessions[t["session"]]["ended_access"]

    # --- OIDC -----------------------------------------------------------------------------
    def client(self, body):
        c = self.clients.get(body.get("clientId"))
        if c is None or not secrets.compare_digest(c["secret"], str(body.get("clientSecret", ""))):
            raise Failure("InvalidClient", "Invalid client credentials")
        if self.now() >= c["expires"]:
            raise Failure("InvalidClient", "Client registration has expired")
        return c

    def register_client(self, body):
        for field in ("clientName", "clientType"):
            if not body.get(field):
                raise Failure("InvalidRequest", f"{field} is required")
        if body["clientType"] != "public":
            raise Failure("InvalidClientMetadata", "clientType must be public")
        now = int(self.now())
        client_id, secret = token("stubclient-", 16), token("stubsecret-", 48)
        expires = now + int(self.knobs["registration_ttl"])
        self.clients[client_id] = {"secret": secret, "scopes": list(body.get("scopes") or []),
                                   "grantTypes": body.get("grantTypes"), "expires": expires}
        return {"clientId": client_id, "clientSecret": secret, "clientIdIssuedAt": now,
                "clientSecretExpiresAt": expires}

    def start_device_authorization(self, body):
        if not body.get("clientId") or not body.get("clientSecret") or not body.get("startUrl"):
            raise Failure("InvalidRequest", "clientId, clientSecret and startUrl are required")
        self.client(body)
        letters = string.ascii_uppercase
        user_code = "".join(secrets.choice(letters) for _ in range(4)) + "-" + \
            "".join(secrets.choice(letters) for _ in range(4))
        device_code = token("stubdevice-")
        ttl, interval = int(self.knobs["device_code_ttl"]), int(self.knobs["interval"])
        self.devices[device_code] = {"clientId": body["clientId"], "userCode": user_code,
                                     "expires": self.now() + ttl, "interval": interval,
                                     "state": "pending", "polls": 0, "last_poll": None,
                                     "startUrl": body["startUrl"]}
        uri = self.knobs["verification_uri"]
        return {"deviceCode": device_code, "userCode": user_code, "verificationUri": uri,
                "verificationUriComplete": f"{uri}?user_code={user_code}", "expiresIn": ttl,
                "interval": interval}

    def create_token(self, body):
        for field in ("clientId", "clientSecret", "grantType"):
            if not body.get(field):
                raise Failure("InvalidRequest", f"{field} is required")
        client = self.client(body)
        grant = body["grantType"]
        if grant not in (DEVICE_GRANT, REFRESH_GRANT):
            raise Failure("UnsupportedGrantType", f"Unsupported grant type: {grant}")
        if client["grantTypes"] is not None and grant not in client["grantTypes"]:
            raise Failure("UnauthorizedClient", f"The client is not registered for {grant}")
        if grant == DEVICE_GRANT:
            return self.device_grant(body, client)
        return self.refresh_grant(body, client)

    def device_grant(self, body, client):
        d = self.devices.get(body.get("deviceCode"))
        if d is None or d["clientId"] != body["clientId"] or d["state"] == "used":
            raise Failure("InvalidGrant", "Invalid grant provided")
        if self.now() >= d["expires"]:
            raise Failure("ExpiredToken", "Device code has expired")
        if d["state"] == "denied":
            raise Failure("AccessDenied", "Access denied")
        mono, last = time.monotonic(), d["last_poll"]
        d["last_poll"] = mono
        if self.knobs["slow_down_next"] > 0:
            self.knobs["slow_down_next"] -= 1
            raise Failure("SlowDown", "Client is polling too fast")
        if self.knobs["enforce_interval"] and last is not None and mono - last < d["interval"]:
            raise Failure("SlowDown", "Client is polling too fast")
        d["polls"] += 1
        after = self.knobs["auto_approve_after"]
        if d["state"] == "pending" and after is not None and d["polls"] > after:
            d["state"] = "approved"
        if d["state"] != "approved":
            raise Failure("AuthorizationPending", "Authorization is still pending")
        d["state"] = "used"
        session = uuid.uuid4().hex
        self.sessions[session] = {"started": self.now(), "ended": False, "ended_access": False}
        out = self.issue_access(session)
        if client["scopes"]:
            out["refreshToken"] = self.issue_refresh(session, body["clientId"])
        return out

    def issue_access(self, session):
        ttl = int(self.knobs["access_token_ttl"])
        access = token("stubaccess-", 48)
        self.access_tokens[access] = {"session": session, "expires": self.now() + ttl, "revoked": False}
        return {"accessToken": access, "tokenType": "Bearer", "expiresIn": ttl}

    def issue_refresh(self, session, client_id):
        refresh = token("stubrefresh-", 48)
        self.refresh_tokens[refresh] = {"session": session, "clientId": client_id, "valid": True}
        return refresh

    def refresh_grant(self, body, client):
        old = body.get("refreshToken")
        r = self.refresh_tokens.get(old)
        if r is None or not r["valid"] or r["clientId"] != body["clientId"]:
            raise Failure("InvalidGrant", "Invalid refresh token provided")
        s = self.sessions[r["session"]]
        if s["ended"] or self.now() >= s["started"] + float(self.knobs["session_ttl"]):
            raise Failure("InvalidGrant", "The session has ended")
        out = self.issue_access(r["session"])
        if self.knobs["omit_refresh_token"]:
            return out
        if self.knobs["rotate_refresh_tokens"]:
            r["valid"] = False
            out["refreshToken"] = self.issue_refresh(r["session"], body["clientId"])
        else:
            out["refreshToken"] = old
        return out

    # --- portal ---------------------------------------------------------------------------
    def throttled(self):
        if self.knobs["throttle_next"] > 0:
            self.knobs["throttle_next"] -= 1
            return True
        t = self.knobs["throttle"]
        if t is None:
            return False
        rate, burst = float(t["rate"]), float(t["burst"])
        now = time.monotonic()
        tokens, last = self.bucket if self.bucket else (burst, now)
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens >= 1:
            self.bucket = (tokens - 1, now)
            return False
        self.bucket = (tokens, now)
        return True

    def authorize(self, access):
        t = self.access_tokens.get(access or "")
        if t is None or not self.token_valid(t, self.now()):
            raise Failure("Unauthorized", "Session token not found or invalid")
        return t

    def portal(self, operation, query, access):
        """The answer to a portal call, throttling and token checked first."""
        if self.throttled():
            raise Failure("TooManyRequests", "Rate exceeded")
        t = self.authorize(access)
        if operation == "Logout":
            t["revoked"] = True
            for r in self.refresh_tokens.values():
                if r["session"] == t["session"]:
                    r["valid"] = False
            return None
        if operation == "GetRoleCredentials":
            return self.role_credentials(query)
        if operation == "ListAccounts":
            items = [{k: a[k] for k in ("accountId", "accountName", "emailAddress")}
                     for a in sorted(self.accounts.values(), key=lambda a: a["accountId"])]
            return self.page(query, "accounts", "accountList", items)
        account_id = query.get("account_id")
        if not account_id:
            raise Failure("InvalidRequest", "account_id is required")
        injected = self.knobs["fail_roles"].get(account_id)
        if injected == 429:
            raise Failure("TooManyRequests", "Rate exceeded")
        if injected is not None:
            raise Failure("InternalServer", "Internal error", status=int(injected))
        account = self.accounts.get(account_id)
        if account is None:
            raise Failure("ResourceNotFound", "Account not found")
        items = [{"roleName": name, "accountId": account_id} for name in sorted(account["roles"])]
        return self.page(query, "roles:" + account_id, "roleList", items)

    def page(self, query, listing, key, items):
        limit = self.knobs["page_size"]
        if "max_result" in query:
            try:
                asked = int(query["max_result"])
            except ValueError:
                asked = 0
            if not 1 <= asked <= 100:
                raise Failure("InvalidRequest",
                              "ResultSize parameter must be within the valid limits of: 1-100")
            limit = min(limit, asked)
        start = 0
        if "next_token" in query:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(query["next_token"].encode()))
                assert decoded["listing"] == listing
                start = int(decoded["offset"])
            except Exception:
                raise Failure("InvalidRequest", "Invalid nextToken") from None
        out = {key: items[start:start + limit]}
        if start + limit < len(items):
            out["nextToken"] = base64.urlsafe_b64encode(json.dumps(
                {"listing": listing, "offset": start + limit, "n": secrets.token_hex(4)}).encode()).decode()
        return out

    def role_credentials(self, query):
        account_id, role = query.get("account_id"), query.get("role_name")
        if not account_id or not role:
            raise Failure("InvalidRequest", "account_id and role_name are required")
        account = self.accounts.get(account_id)
        if account is None:
            raise Failure("ResourceNotFound", "Account not found")
        if role not in account["roles"]:
            raise Failure("Forbidden", "No access", status=403)
        expiration = int((self.now() + float(self.knobs["role_credentials_ttl"])) * 1000)
        fixed = account["roles"][role]
        if fixed:
            creds = {k: fixed[k] for k in ("accessKeyId", "secretAccessKey", "sessionToken")}
            creds["expiration"] = int(fixed.get("expiration", expiration))
        else:
            alphabet = string.ascii_uppercase + string.digits
            creds = {"accessKeyId": "ASIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
                     "secretAccessKey": secrets.token_urlsafe(30)[:40],
                     "sessionToken": "IQoJb3JpZ2luX2VjE" + secrets.token_urlsafe(180),
                     "expiration": expiration}
        return {"roleCredentials": creds}


STUB = Stub()
VERBOSE = False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sso-stub"

    def log_message(self, fmt, *args):
        if VERBOSE:
            sys.stderr.write("sso-stub: " + (fmt % args) + "\n")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def send(self, status, body, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if body is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def dispatch(self, method):
        url = urlsplit(self.path)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raw = b""
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                raw += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers, up to the empty line
                pass
        else:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if url.path.startswith("/_stub/"):
            return self.control(method, url.path, query, raw)
        self.aws(method, url.path, query, raw)

    def control(self, method, path, query, raw):
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ControlError(400, "the body is a JSON object")
            with STUB.lock:
                route = (method, path)
                if route == ("POST", "/_stub/config"):
                    out = STUB.configure(body)
                elif route == ("POST", "/_stub/reset"):
                    STUB.reset()
                    out = {}
                elif route == ("POST", "/_stub/approve"):
                    out = STUB.decide(body, "approved")
                elif route == ("POST", "/_stub/deny"):
                    out = STUB.decide(body, "denied")
                elif route == ("POST", "/_stub/assign"):
                    out = STUB.assign(body)
                elif route == ("POST", "/_stub/unassign"):
                    out = STUB.unassign(body)
                elif route == ("POST", "/_stub/expire_access_tokens"):
                    past = STUB.now() - 1
                    for t in STUB.access_tokens.values():
                        t["expires"] = min(t["expires"], past)
                    out = {}
                elif route == ("POST", "/_stub/end_sessions"):
                    for s in STUB.sessions.values():
                        s["ended"] = True
                        s["ended_access"] = s["ended_access"] or not body.get("keepAccessTokens")
                    out = {}
                elif route == ("GET", "/_stub/state"):
                    out = STUB.state()
                elif route == ("GET", "/_stub/log"):
                    since = int(query.get("since", -1))
                    out = {"requests": [dict(e) for e in STUB.log if e["seq"] > since and "status" in e]}
                elif route == ("POST", "/_stub/clear_log"):
                    STUB.log = []
                    out = {}
                else:
                    raise ControlError(404, f"no control route {method} {path}")
            self.send(200, out)
        except ControlError as e:
            self.send(e.status, {"message": e.message})
        except (ValueError, KeyError, TypeError) as e:
            self.send(400, {"message": f"bad control request: {e!r}"})

    def aws(self, method, path, query, raw):
        operation = OIDC_ROUTES.get((method, path)) or PORTAL_ROUTES.get((method, path)) or "Unknown"
        with STUB.lock:
            STUB.seq += 1
            STUB.inflight += 1
            entry = {"seq": STUB.seq, "operation": operation, "method": method, "path": path,
                     "query": query, "start": STUB.mono(), "time": time.time(),
                     "inflight": STUB.inflight, "error": None}
            STUB.log.append(entry)
            delay = float(STUB.knobs["delay"]) if (method, path) in PORTAL_ROUTES else 0
            latency = STUB.knobs["latency"]
            if latency is not None and operation != "Unknown":
                delay += random.uniform(float(latency["min"]), float(latency["max"]))
        status, body, headers = 200, None, []
        try:
            if delay:
                time.sleep(delay)
            if (method, path) in OIDC_ROUTES:
                status, body, headers = self.oidc(operation, raw, entry)
            elif (method, path) in PORTAL_ROUTES:
                status, body, headers = self.portal(operation, query)
            else:
                status, body = 404, {"message": f"no route {method} {path}"}
                headers = [("x-amzn-ErrorType", "UnknownOperationException")]
        except Exception:  # a bug in the stub: say so loudly, as a 500 the test will notice
            traceback.print_exc()
            status, body = 500, {"message": "sso-stub crashed; see its stderr"}
            headers = [("x-amzn-ErrorType", "InternalServerException")]
        finally:
            with STUB.lock:
                STUB.inflight -= 1
                entry["end"] = STUB.mono()
                for k, v in headers:
                    if k == "x-amzn-ErrorType":
                        entry["error"] = v.split(":")[0]
                entry["status"] = status  # last: the log shows finished calls only
        self.send(status, body, headers)

    def oidc(self, operation, raw, entry):
        try:
            try:
                body = json.loads(raw) if raw.strip() else {}
                if not isinstance(body, dict):
                    raise ValueError
            except ValueError:
                raise Failure("InvalidRequest", "The request body is not a JSON object") from None
            handler = {"RegisterClient": STUB.register_client,
                       "StartDeviceAuthorization": STUB.start_device_authorization,
                       "CreateToken": STUB.create_token}[operation]
            with STUB.lock:
                if operation == "CreateToken":
                    entry["grantType"] = body.get("grantType")
                return 200, handler(body), []
        except Failure as f:
            status, error = OIDC_ERRORS[f.name]
            return status, {"error": error, "error_description": f.message}, [
                ("x-amzn-ErrorType", f"{f.name}Exception:{OIDC_NAMESPACE}")]

    def portal(self, operation, query):
        try:
            with STUB.lock:
                retry_after = STUB.knobs["retry_after"]
                return 200, STUB.portal(operation, query, self.headers.get("x-amz-sso_bearer_token")), []
        except Failure as f:
            status = f.status or {"InvalidRequest": 400, "Unauthorized": 401, "ResourceNotFound": 404,
                                  "TooManyRequests": 429}[f.name]
            headers = [("x-amzn-ErrorType", f"{f.name}Exception:{PORTAL_NAMESPACE}")]
            if status == 429 and retry_after is not None:
                headers.append(("Retry-After", str(retry_after)))
            return status, {"message": f.message}, headers


def main():
    global VERBOSE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--watch-stdin", action="store_true",
                        help="exit when standard input reaches end of file")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args()
    VERBOSE = args.verbose

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True

    def stop(*_):
        # shutdown() waits for serve_forever to return: call it off the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.watch_stdin:
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            stop()
        threading.Thread(target=watch, daemon=True).start()

    print(f"SSO_STUB_READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    server.server_close()
    # Not a normal exit: the --watch-stdin thread may be blocked reading stdin, and interpreter
    # shutdown aborts ("could not acquire lock for <stdin>") when a daemon thread holds it.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
