#!/usr/bin/env python3
"""A fake MFA code source: install it on PATH as `ykman` and/or `fake-otp` (symlink or copy).
Codes come from totp.py in the script's real directory (a lone copy uses an identical inline
fallback).

It behaves by the name it was run as (basename of argv[0]):

    ykman oath accounts code --single ACCOUNT   # prints the 6-digit TOTP code for now
    fake-otp [--prefix] [ignored ...]           # (any other name) prints the code; with --prefix
                                                # first a line "Your code:"

Configuration: the environment variable FAKE_MFA_DIR names a directory (unset: message on
stderr, exit 4) holding
    seed     base32 TOTP seed (required whenever a code is printed; missing: exit 4)
    mode     optional, one word, re-read on every call (missing or empty: ok):
               ok          print the code, exit 0
               fail        stderr "fake: something went wrong", exit 3
               hang        sleep 600 s, then behave as ok (the caller must kill it)
               garbage     stdout "hello\\nnot a code", exit 0
               no-yubikey  as ykman: stderr "ERROR: No YubiKey detected!", exit 1
                           (as any other name: same as ok)
               stderr      stderr "fake: note on stderr", then the code on stdout, exit 0
             an unknown mode: message on stderr, exit 4
    account  optional; as ykman, a requested ACCOUNT that differs from this file's content
             (stripped) gives stderr "ERROR: No matching account found.", exit 1 (checked
             after the mode's failures, before printing a code)
Every call (after FAKE_MFA_DIR is found, before anything else) appends one line to
$FAKE_MFA_DIR/calls: "<name> <unix time float> <args joined by space>" (one O_APPEND write,
so concurrent calls do not interleave). As ykman, any other arguments than the ones above give
a usage error on stderr, exit 2 (the mode is not consulted).
"""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
try:
    from totp import totp
except ImportError:  # a copy of this script without totp.py beside it: the same RFC 6238 code
    import base64
    import hashlib
    import hmac
    import struct

    def totp(seed_b32, at=None, step=30, digits=6):
        s = ''.join(seed_b32.split()).upper().rstrip('=')
        key = base64.b32decode(s + '=' * (-len(s) % 8))
        counter = int((time.time() if at is None else at) // step)
        mac = hmac.new(key, struct.pack('>Q', counter), hashlib.sha1).digest()
        offset = mac[-1] & 0x0F
        value = struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF
        return str(value % 10 ** digits).zfill(digits)


def read(directory, name):
    try:
        with open(os.path.join(directory, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def log_call(directory, name, args):
    line = ' '.join([name, repr(time.time())] + args) + '\n'
    fd = os.open(os.path.join(directory, 'calls'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def fail(message, status):
    sys.stderr.write(message + '\n')
    sys.stderr.flush()
    sys.exit(status)


def code(directory):
    seed = read(directory, 'seed')
    if not seed:
        fail(f'fake: no seed in {directory}/seed', 4)
    return totp(seed)


def main():
    name = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    directory = os.environ.get('FAKE_MFA_DIR')
    if not directory:
        fail('fake: FAKE_MFA_DIR is not set', 4)
    log_call(directory, name, args)
    ykman = name == 'ykman'
    if ykman and (len(args) != 5 or args[:4] != ['oath', 'accounts', 'code', '--single']):
        fail('Usage: ykman oath accounts code --single ACCOUNT\n'
             'Error: fake ykman accepts only these arguments', 2)
    mode = read(directory, 'mode') or 'ok'
    if mode not in ('ok', 'fail', 'hang', 'garbage', 'no-yubikey', 'stderr'):
        fail(f'fake: unknown mode {mode!r}', 4)
    if mode == 'no-yubikey' and ykman:
        fail('ERROR: No YubiKey detected!', 1)
    if mode == 'fail':
        fail('fake: something went wrong', 3)
    if mode == 'hang':
        time.sleep(600)
    if mode == 'garbage':
        sys.stdout.write('hello\nnot a code\n')
        sys.stdout.flush()
        return
    if ykman:
        account = read(directory, 'account')
        if account is not None and account != args[4]:
            fail('ERROR: No matching account found.', 1)
    value = code(directory)
    if mode == 'stderr':
        sys.stderr.write('fake: note on stderr\n')
        sys.stderr.flush()
    if not ykman and args[:1] == ['--prefix']:
        sys.stdout.write('Your code:\n')
    sys.stdout.write(value + '\n')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
