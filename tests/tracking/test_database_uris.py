"""PostgreSQL and MySQL tracking URIs fail like HTTP ones: in seconds, in one line, without the password."""

from __future__ import annotations

import socket
import time

import pytest

from servers import free_port

LIMIT_S = 20  # the check's 5 s time-out plus imports on a busy machine; MLflow's own retries took 106 s


@pytest.mark.parametrize("scheme,driver", [("postgresql", "psycopg"), ("postgresql+psycopg", "psycopg"),
                                           ("mysql+pymysql", "pymysql")])
def test_a_dead_database_port_is_one_line_in_seconds(run_cli, capsys, scheme, driver):
    pytest.importorskip(driver)
    started = time.perf_counter()
    code = run_cli("run", "--epochs", "1", "--tracking-uri", f"{scheme}://user:s3cret-pw@127.0.0.1:{free_port()}/db")
    assert time.perf_counter() - started < LIMIT_S
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("quantrack: error: cannot reach the database"), err
    assert "s3cret-pw" not in err and "***@127.0.0.1" in err


def test_a_database_port_that_never_answers_times_out(run_cli, capsys):
    pytest.importorskip("psycopg")
    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.perf_counter()
        code = run_cli("run", "--tracking-uri", f"postgresql://u:pw@127.0.0.1:{port}/db")
        elapsed = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot reach the database" in err, err
    assert elapsed < LIMIT_S


def test_a_database_uri_without_its_driver_says_what_to_install(run_cli, capsys):
    code = run_cli("run", "--tracking-uri", f"mssql+nosuchdriver://u:pw@127.0.0.1:{free_port()}/db")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot use the tracking URI" in err and "pw@" not in err, err


def test_https_to_a_plain_http_server_says_so_in_one_line(tmp_path):
    import http.server
    import threading

    from quantrack.errors import TrackingError
    from quantrack.tracking.tracker import Tracker

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        started = time.perf_counter()
        with pytest.raises(TrackingError) as e:
            Tracker(f"https://127.0.0.1:{server.server_address[1]}", "x").check()
        assert time.perf_counter() - started < LIMIT_S
    finally:
        server.shutdown()
        server.server_close()
    message = str(e.value)
    assert "does not answer in TLS (an http:// server?)" in message and "\n" not in message, message


@pytest.mark.parametrize("uri", [
    "postgresql+psycopg://user@127.0.0.1:{port}/db?password=s3cret-pw",  # libpq/SQLAlchemy take it as a parameter
    "postgresql+psycopg://127.0.0.1:{port}/db?sslmode=disable&user=u&password=s3cret-pw",
])
def test_a_password_given_as_a_query_parameter_is_never_shown(run_cli, capsys, uri):
    pytest.importorskip("psycopg")
    code = run_cli("run", "--epochs", "1", "--tracking-uri", uri.format(port=free_port()))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot reach the database" in err, err
    assert "s3cret-pw" not in err and "password=***" in err


def test_a_query_parameter_password_is_kept_out_of_the_runs_params():
    from quantrack.config import RunConfig
    from quantrack.pipeline import _params

    params = _params(RunConfig(tracking_uri="postgresql://h/db?user=u&password=s3cret-pw&sslmode=require"))
    assert params["tracking_uri"] == "postgresql://h/db?user=u&password=***&sslmode=require"


def test_a_tracking_uri_without_its_scheme_never_shows_the_password(run_cli, capsys):
    """``user:password@host:port`` with ``http://`` forgotten: MLflow refuses it quoting it whole; before,
    the password was printed twice on the terminal."""
    code = run_cli("run", "--epochs", "1", "--tracking-uri", "admin:s3cret-pw@127.0.0.1:5000")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "s3cret-pw" not in err and "***@127.0.0.1:5000" in err
