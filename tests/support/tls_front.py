"""A TLS-terminating forwarder on 127.0.0.1 with a private test CA, for credtray's network tests:
it puts https in front of a plain-http test server (moto, the SSO stub), as a company's
TLS-inspecting proxy or a private endpoint would present a certificate no public root vouches for.

    python tls_front.py --ca-out PATH --upstream HOST:PORT [--watch-stdin]

At start it makes a fresh CA (EC P-256, valid for a day either side of now) and a server
certificate it signs for `127.0.0.1` and `localhost` (SAN IP and DNS), writes the CA certificate
as PEM to PATH (what a test hands to `AWS_CA_BUNDLE`, `curl --cacert`, ...), and prints one line on
stdout once it accepts connections:

    PORT <n>

Each connection's TLS is terminated here and its plaintext piped to HOST:PORT, byte for byte
(Host headers and all). A client that does not trust the CA fails its handshake; that is logged
on stderr as one line. It serves until SIGTERM or, with --watch-stdin, until its standard input
reaches end of file. Needs the `cryptography` package (in the test venv: moto requires it).
"""
import argparse
import datetime
import ipaddress
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def certificates():
    """(CA certificate PEM, server certificate chain PEM, server key PEM)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = now - datetime.timedelta(days=1), now + datetime.timedelta(days=1)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'credtray test CA')])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(not_before).not_valid_after(not_after)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
              key_encipherment=False, data_encipherment=False, key_agreement=False,
              encipher_only=False, decipher_only=False), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))

    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')]))
              .issuer_name(ca_name)
              .public_key(key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(not_before).not_valid_after(not_after)
              .add_extension(x509.SubjectAlternativeName([
                  x509.DNSName('localhost'),
                  x509.IPAddress(ipaddress.IPv4Address('127.0.0.1')),
              ]), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(
                  digital_signature=True, key_cert_sign=False, crl_sign=False,
                  content_commitment=False, key_encipherment=False, data_encipherment=False,
                  key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))

    pem = serialization.Encoding.PEM
    return (ca.public_bytes(pem),
            server.public_bytes(pem) + ca.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def server_context(chain, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain reads files only; the directory goes as soon as they are loaded.
    with tempfile.TemporaryDirectory(prefix='tls-front-') as d:
        chain_path, key_path = os.path.join(d, 'chain.pem'), os.path.join(d, 'key.pem')
        with open(chain_path, 'wb') as f:
            f.write(chain)
        with open(key_path, 'wb') as f:
            f.write(key)
        context.load_cert_chain(chain_path, key_path)
    context.set_alpn_protocols(['http/1.1'])
    return context


def pipe(source, sink, done):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except (OSError, ValueError):
        pass
    done()


def serve(raw, peer, context, upstream_address):
    try:
        client = context.wrap_socket(raw, server_side=True)
    except (OSError, ValueError) as e:
        print(f'tls_front.py: handshake with {peer[0]}:{peer[1]} failed: {e}', file=sys.stderr,
              flush=True)
        raw.close()
        return
    try:
        upstream = socket.create_connection(upstream_address, timeout=10)
        upstream.settimeout(None)
    except OSError as e:
        print(f'tls_front.py: upstream {upstream_address} unreachable: {e}', file=sys.stderr,
              flush=True)
        client.close()
        return
    closed = threading.Event()

    def done():
        if closed.is_set():
            return
        closed.set()
        # The plain socket's shutdown, not SSLSocket's (which drops its TLS state under the other
        # thread): it wakes the thread still blocked reading either side.
        for s in (client, upstream):
            try:
                socket.socket.shutdown(s, socket.SHUT_RDWR)
            except OSError:
                pass

    back = threading.Thread(target=pipe, args=(upstream, client, done), daemon=True)
    back.start()
    pipe(client, upstream, done)
    back.join()
    client.close()
    upstream.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--ca-out', required=True, help='where to write the CA certificate (PEM)')
    parser.add_argument('--upstream', required=True, help='HOST:PORT of the plain-http server')
    parser.add_argument('--watch-stdin', action='store_true', help='exit when stdin closes')
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(':')
    if not host or not port.isdigit():
        parser.error(f'--upstream must be HOST:PORT, not {args.upstream!r}')
    upstream_address = (host.strip('[]'), int(port))

    ca, chain, key = certificates()
    context = server_context(chain, key)
    with open(args.ca_out, 'wb') as f:
        f.write(ca)

    listener = socket.create_server(('127.0.0.1', 0))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.watch_stdin:
        def watch_stdin():
            sys.stdin.read()
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()
    print(f'PORT {listener.getsockname()[1]}', flush=True)
    while True:
        raw, peer = listener.accept()
        threading.Thread(target=serve, args=(raw, peer, context, upstream_address),
                         daemon=True).start()


if __name__ == '__main__':
    main()
