"""RFC 6238 TOTP codes (HMAC-SHA1), for the MFA fakes and the stub STS.

    python3 totp.py SEED [UNIX_TIME]    # prints the 6-digit code for now (or for UNIX_TIME)

As a module: totp(seed_b32, at=None, step=30, digits=6) -> str and window(at=None, step=30) -> int.
The seed is base32, case-insensitive, with or without '=' padding (spaces are ignored).
"""
import base64
import hashlib
import hmac
import struct
import sys
import time


def _key(seed_b32):
    s = ''.join(seed_b32.split()).upper().rstrip('=')
    return base64.b32decode(s + '=' * (-len(s) % 8))


def window(at=None, step=30):
    """The number of the TOTP time step containing `at` (default: now)."""
    return int((time.time() if at is None else at) // step)


def code_for_window(seed_b32, counter, digits=6):
    """The HOTP code of `seed_b32` for the step number `counter`."""
    mac = hmac.new(_key(seed_b32), struct.pack('>Q', counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


def totp(seed_b32, at=None, step=30, digits=6):
    """The TOTP code of `seed_b32` at Unix time `at` (default: now)."""
    return code_for_window(seed_b32, window(at, step), digits)


if __name__ == '__main__':
    if len(sys.argv) not in (2, 3):
        sys.exit('usage: totp.py SEED [UNIX_TIME]')
    print(totp(sys.argv[1], float(sys.argv[2]) if len(sys.argv) == 3 else None))
