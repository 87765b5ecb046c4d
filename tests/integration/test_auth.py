"""Authentication and transport: bearer tokens, mTLS, refusing exposed plaintext, socket mode."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from ..conftest import server_env, start_server
from ..helpers import rpc_reason

TOKEN = "s3cr3t-token-value-1234567890"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "root"
    d.mkdir()
    (d / "f").write_text("content")
    return d


def test_missing_or_wrong_token_is_unauthenticated(tmp_path: Path, root: Path,
                                                   backend: str) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# accepted tokens\n{TOKEN}\n")
    server = start_server(tmp_path, [str(root)], backend, "--auth-token-file", str(tokens))
    try:
        for token in (None, "wrong-token"):
            with fsgate.Client(server.target, token=token) as c:
                with pytest.raises(fsgate.Unauthenticated) as err:
                    c.read_file(str(root / "f"))
                assert err.value.code is grpc.StatusCode.UNAUTHENTICATED
                assert err.value.reason == "UNAUTHENTICATED"
                with pytest.raises(fsgate.Unauthenticated):
                    c.write_file(str(root / "g"), b"x")
        assert not (root / "g").exists()
        with fsgate.Client(server.target, token=TOKEN) as c:
            assert c.read_file(str(root / "f")) == b"content"
    finally:
        server.stop()
    assert TOKEN not in server.log()


def test_token_file_is_reloaded_on_sighup(tmp_path: Path, root: Path, backend: str) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("old-token\n")
    server = start_server(tmp_path, [str(root)], backend, "--auth-token-file", str(tokens))
    try:
        with fsgate.Client(server.target, token="old-token") as c:
            c.stat(str(root / "f"))
        tokens.write_text("new-token\n")
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "tokens_reloaded" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        with fsgate.Client(server.target, token="new-token") as c:
            c.stat(str(root / "f"))
        with fsgate.Client(server.target, token="old-token") as c, \
                pytest.raises(fsgate.Unauthenticated):
            c.stat(str(root / "f"))
    finally:
        server.stop()


def _serve_exit(tmp_path: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsgate_server", "serve", "--root", str(root),
                           *args], env=server_env(), capture_output=True, text=True, timeout=60)


def test_non_loopback_listen_without_auth_or_tls_is_refused(tmp_path: Path,
                                                            root: Path) -> None:
    result = _serve_exit(tmp_path, root, "--listen", "0.0.0.0:0")
    assert result.returncode == 2
    assert "refusing a non-loopback TCP address" in result.stderr


def test_missing_token_file_is_a_clear_startup_error(tmp_path: Path, root: Path) -> None:
    result = _serve_exit(tmp_path, root, "--auth-token-file", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "--auth-token-file" in result.stderr


def test_unix_socket_is_not_world_accessible(tmp_path: Path, root: Path, backend: str) -> None:
    server = start_server(tmp_path, [str(root)], backend)
    try:
        mode = stat.S_IMODE(os.stat(server.target.removeprefix("unix:")).st_mode)
        assert mode & 0o007 == 0, oct(mode)
    finally:
        server.stop()


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    d = tmp_path / "pki"
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ca",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
        ext = d / f"{name}.ext"
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"),
                 "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "1",
                 "-extfile", str(ext), "-out", str(d / f"{name}.pem"))
    return d


def test_mutual_tls_requires_a_client_certificate(tmp_path: Path, root: Path, pki: Path,
                                                  backend: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_server(tmp_path, [str(root)], backend, "--listen", f"127.0.0.1:{port}",
                          "--tls-cert", str(pki / "server.pem"), "--tls-key",
                          str(pki / "server.key"), "--tls-client-ca", str(pki / "ca.pem"),
                          wait=False)
    try:
        ca = (pki / "ca.pem").read_bytes()
        good = grpc.ssl_channel_credentials(ca, (pki / "client.key").read_bytes(),
                                            (pki / "client.pem").read_bytes())
        channel = grpc.secure_channel(f"localhost:{port}", good)
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        assert stub.Stat(pb.StatRequest(path=str(root / "f"))).info.size == 7
        channel.close()
        anonymous = grpc.secure_channel(f"localhost:{port}", grpc.ssl_channel_credentials(ca))
        with pytest.raises(grpc.RpcError) as err:
            fsgate_pb2_grpc.FileSystemServiceStub(anonymous).Stat(
                pb.StatRequest(path=str(root / "f")), timeout=5)
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE
        anonymous.close()
    finally:
        server.stop()


def test_token_auth_errors_carry_error_info(tmp_path: Path, root: Path, backend: str) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(TOKEN)
    server = start_server(tmp_path, [str(root)], backend, "--auth-token-file", str(tokens))
    try:
        channel = grpc.insecure_channel(server.target)
        stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            list(stub.ReadFile(pb.ReadFileRequest(path=str(root / "f"))))
        assert rpc_reason(err.value) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
        channel.close()
    finally:
        server.stop()
