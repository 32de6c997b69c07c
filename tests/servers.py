"""Real MLflow servers for tests: 127.0.0.1 only, free ports, bounded waits, always stopped.

``MlflowServer`` can be stopped and started again on the same store and port, which is
how the spool test simulates a server that goes away mid-run and comes back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ADMIN = "admin"
# Long enough for MLflow's password rules; only ever used against a throw-away local server.
ADMIN_PASSWORD = "qt-test-Secret-7e1f0c2a"
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    def __init__(self, root: Path, auth: bool = False, port: int | None = None,
                 backend_store_uri: str | None = None) -> None:
        self.root = Path(root)
        self.backend_store_uri = backend_store_uri  # default: a SQLite file in root
        self.root.mkdir(parents=True, exist_ok=True)
        self.auth = auth
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = self.root / "server.log"
        self.start_seconds: float | None = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        for k in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            env.pop(k, None)
        # The GenAI job runner is a second process that competes for the 2 cores while starting.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        if self.auth:
            ini = self.root / "basic_auth.ini"
            ini.write_text(
                "[mlflow]\n"
                "default_permission = READ\n"
                f"database_uri = sqlite:///{self.root / 'auth.db'}\n"
                f"admin_username = {ADMIN}\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                # Without this cache every request pays a ~0.3 s password hash.
                "auth_cache_ttl_seconds = 300\n",
                encoding="utf-8",
            )
            env["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
            env["MLFLOW_AUTH_ADMIN_PASSWORD"] = ADMIN_PASSWORD
            env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = "qt-test-flask-secret"
        return env

    def start(self) -> MlflowServer:
        cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
               "--backend-store-uri", self.backend_store_uri or f"sqlite:///{self.root / 'mlflow.db'}",
               "--artifacts-destination", str(self.root / "artifacts"), "--workers", "1"]
        if self.auth:
            cmd += ["--app-name", "basic-auth"]
        started = time.perf_counter()
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.root, start_new_session=True)
        log.close()
        deadline = started + START_TIMEOUT_S
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    if r.status == 200:
                        self.start_seconds = time.perf_counter() - started
                        return self
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"mlflow server not healthy within {START_TIMEOUT_S} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop the server and its workers (its own process group), waiting at most a few seconds."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self.proc = None
        # The port must be free again before a restart on it.
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- PostgreSQL ------------------------------------------------------------------------------

PG_USER = "quantrack"
# Only ever used against a throw-away cluster on 127.0.0.1 that the test deletes.
PG_PASSWORD = "qt-pg-Secret-4b9d"


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL binaries (initdb, pg_ctl are not on PATH there), or None."""
    import glob
    import shutil

    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # /usr/local/bin may link initdb and pg_ctl only
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder, on a free 127.0.0.1 port, with one database.

    initdb refuses to run as root (as CI does), so as root every server command runs as the
    ``postgres`` user, in a folder that user owns (pytest's tmp_path is private to root).
    """

    def __init__(self, database: str = "mlflow") -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL binaries not found")
        self.database = database
        self.port = free_port()
        self.root: Path | None = None

    @property
    def uri(self) -> str:
        # psycopg 3 (SQLAlchemy's plain postgresql:// would look for psycopg2)
        return f"postgresql+psycopg://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{self.port}/{self.database}"

    def _as_owner(self, *cmd: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        proc = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PGPASSWORD": PG_PASSWORD}, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed ({proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}")

    def start(self) -> PostgresServer:
        import shutil
        import tempfile

        self.root = Path(tempfile.mkdtemp(prefix="quantrack-pg-"))
        if os.getuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(PG_PASSWORD + "\n", encoding="utf-8")
        if os.getuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        data = self.root / "data"
        self._as_owner(str(self.bin / "initdb"), "-D", str(data), "-U", PG_USER, "--pwfile", str(pwfile),
                       "-A", "scram-sha-256", "--no-sync", "-E", "UTF8", "--locale", "C.UTF-8")
        # Only loopback, the socket in our own folder, and no fsync: a test cluster, thrown away after.
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._as_owner(str(self.bin / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.root / "pg.log"),
                       "-w", "-t", str(START_TIMEOUT_S), "start", timeout=START_TIMEOUT_S + 10)
        self._as_owner(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER,
                       self.database)
        return self

    def stop(self) -> None:
        import shutil

        if self.root is None:
            return
        try:
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "-t", "20",
                           "stop", timeout=30)
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_healthy(proc, url: str, log: Path, timeout_s: float, poll_s: float = 0.25) -> None:
    """Until ``url``/health answers; fails with the server's log if it exits or ``timeout_s`` passes first."""
    deadline = time.perf_counter() + timeout_s
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.perf_counter() < deadline, f"scoring server not healthy within {timeout_s:g} s"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                return
        except OSError:
            time.sleep(poll_s)
