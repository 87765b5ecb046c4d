"""Configuration: one name per option across flag, FSGATE_* variable and TOML file;
precedence flag > environment > file > default; every bad value named in its error."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fsgate_server import config as config_mod
from fsgate_server.config import OPTIONS, Config, ConfigError

from .conftest import server_env

# One valid, non-default value per option: (command-line text, TOML value, describe() value).
SAMPLES: dict[str, tuple[str, Any, Any]] = {
    "root": ("/srv/ws:ro", ["/srv/ws:ro"], ["/srv/ws:ro"]),
    "listen": ("unix:/run/x.sock", ["unix:/run/x.sock"], ["unix:/run/x.sock"]),
    "sandbox": ("bwrap", "bwrap", "bwrap"),
    "protected_path": ("secrets/**", ["secrets/**"], ["secrets/**"]),
    "max_read_bytes": ("4096", 4096, 4096),
    "max_write_bytes": ("8192", 8192, 8192),
    "max_list_depth": ("3", 3, 3),
    "max_list_entries": ("77", 77, 77),
    "max_matches": ("55", 55, 55),
    "max_watches": ("3", 3, 3),
    "max_watch_seconds": ("9.5", 9.5, 9.5),
    "max_watched_dirs": ("44", 44, 44),
    "max_concurrent_helpers": ("5", 5, 5),
    "helper_pool_size": ("2", 2, 2),
    "helper_timeout": ("12.5", 12.5, 12.5),
    "queue_timeout": ("0.5", 0.5, 0.5),
    "auth_token_file": ("/etc/fsgate/tokens", "/etc/fsgate/tokens", "/etc/fsgate/tokens"),
    "tls_cert": ("/etc/tls/crt.pem", "/etc/tls/crt.pem", "/etc/tls/crt.pem"),
    "tls_key": ("/etc/tls/key.pem", "/etc/tls/key.pem", "/etc/tls/key.pem"),
    "tls_client_ca": ("/etc/tls/ca.pem", "/etc/tls/ca.pem", "/etc/tls/ca.pem"),
    "metrics_listen": ("127.0.0.1:9090", "127.0.0.1:9090", "127.0.0.1:9090"),
    "shutdown_grace": ("2.5", 2.5, 2.5),
    "log_format": ("console", "console", "console"),
    "log_level": ("debug", "debug", "debug"),
}


def toml_value(value: Any) -> str:
    return json.dumps(value)  # a JSON string, number or list of strings is valid TOML


def load(argv: list[str], environ: dict[str, str] | None = None) -> Config:
    parser = argparse.ArgumentParser()
    config_mod.add_arguments(parser)
    return config_mod.load(parser.parse_args(argv), environ=environ or {})


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def test_every_option_has_a_sample_here() -> None:
    missing = {o.name for o in OPTIONS} - set(SAMPLES)
    assert not missing, f"add a sample value for new option(s) {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_option_has_one_name_across_flag_env_and_file(name: str, tmp_path: Path) -> None:
    text, toml, shown = SAMPLES[name]
    toml_file = tmp_path / "fsgate.toml"
    toml_file.write_text(f"{name} = {toml_value(toml)}\n")
    from_flag = load([flag(name), text]).describe()
    from_env = load([], {f"FSGATE_{name.upper()}": text}).describe()
    from_file = load(["--config", str(toml_file)]).describe()
    assert from_flag[name] == from_env[name] == from_file[name] == shown
    assert from_flag != Config().describe()  # the sample really differs from the default


def test_print_config_keys_are_the_option_names() -> None:
    assert set(Config().describe()) == {o.name for o in OPTIONS}


def test_precedence_is_flag_then_env_then_file_then_default(tmp_path: Path) -> None:
    toml_file = tmp_path / "fsgate.toml"
    toml_file.write_text("max_list_depth = 3\nmax_list_entries = 30\nqueue_timeout = 0.3\n")
    env = {"FSGATE_MAX_LIST_DEPTH": "2", "FSGATE_MAX_LIST_ENTRIES": "20"}
    cfg = load(["--config", str(toml_file), "--max-list-depth", "1"], env)
    assert cfg.max_list_depth == 1           # flag beats env and file
    assert cfg.max_list_entries == 20        # env beats file
    assert cfg.queue_timeout == 0.3          # file beats default
    assert cfg.helper_timeout == Config().helper_timeout  # default


def test_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    toml_file = tmp_path / "fsgate.toml"
    toml_file.write_text("max_list_depth = 4\n")
    assert load([], {"FSGATE_CONFIG": str(toml_file)}).max_list_depth == 4


@pytest.mark.parametrize(("argv", "env", "toml", "named", "says"), [
    (["--max-read-bytes", "lots"], {}, "", "--max-read-bytes", "positive integer"),
    (["--max-read-bytes", "0"], {}, "", "--max-read-bytes", "positive integer"),
    ([], {"FSGATE_MAX_LIST_DEPTH": "-1"}, "", "FSGATE_MAX_LIST_DEPTH", "positive integer"),
    ([], {}, "max_list_depth = true", "max_list_depth in", "positive integer"),
    ([], {}, "max_list_depth = 2.5", "max_list_depth in", "positive integer"),
    ([], {}, 'max_list_depth = "ten"', "max_list_depth in", "positive integer"),
    (["--sandbox", "chroot"], {}, "", "--sandbox", "auto, landlock, bwrap"),
    ([], {"FSGATE_LOG_FORMAT": "xml"}, "", "FSGATE_LOG_FORMAT", "auto, json, console"),
    ([], {}, 'log_level = "loud"', "log_level in", "debug, info, warning, error"),
    (["--helper-timeout", "nan"], {}, "", "--helper-timeout", "positive number of seconds"),
    (["--helper-timeout", "0"], {}, "", "--helper-timeout", "positive number of seconds"),
    (["--queue-timeout", "inf"], {}, "", "--queue-timeout", "positive number of seconds"),
    (["--shutdown-grace", "-1"], {}, "", "--shutdown-grace", "non-negative number"),
    (["--metrics-listen", "9090"], {}, "", "--metrics-listen", "HOST:PORT"),
    (["--metrics-listen", "127.0.0.1:99999"], {}, "", "--metrics-listen", "0 to 65535"),
    (["--root", "/ws:rx"], {}, "", "--root", "unknown access suffix"),
    ([], {}, "root = 5", "root in", "invalid value"),
])
def test_bad_value_error_names_the_option(argv: list[str], env: dict[str, str], toml: str,
                                          named: str, says: str, tmp_path: Path) -> None:
    if toml:
        toml_file = tmp_path / "fsgate.toml"
        toml_file.write_text(toml + "\n")
        argv = [*argv, "--config", str(toml_file)]
    with pytest.raises(ConfigError) as err:
        load(argv, env)
    message = str(err.value)
    assert message.startswith(named), message
    assert says in message, message


def test_zero_shutdown_grace_means_cancel_at_once() -> None:
    assert load(["--shutdown-grace", "0"]).shutdown_grace == 0


def test_unknown_toml_key_is_named(tmp_path: Path) -> None:
    toml_file = tmp_path / "fsgate.toml"
    toml_file.write_text("max_read_byte = 1\nroots = ['/ws']\n")
    with pytest.raises(ConfigError) as err:
        load(["--config", str(toml_file)])
    assert "max_read_byte" in str(err.value) and "roots" in str(err.value)
    assert str(toml_file) in str(err.value) and "unknown option" in str(err.value)


def test_broken_toml_file_is_named(tmp_path: Path) -> None:
    toml_file = tmp_path / "fsgate.toml"
    toml_file.write_text("max_read_bytes = = 1\n")
    with pytest.raises(ConfigError, match=r"^--config .*fsgate\.toml"):
        load(["--config", str(toml_file)])
    with pytest.raises(ConfigError, match=r"^--config .*missing\.toml"):
        load(["--config", str(tmp_path / "missing.toml")])


def fsgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsgate_server", *args], env=server_env(env),
                          capture_output=True, text=True, timeout=60)


def test_print_config_shows_the_merged_configuration(tmp_path: Path) -> None:
    toml_file = tmp_path / "fsgate.toml"
    toml_file.write_text('max_list_depth = 3\nlog_level = "warning"\n')
    result = fsgate("serve", "--print-config", "--config", str(toml_file), "--root", "/srv/ws",
                    "--max-list-depth", "5", env={"FSGATE_LOG_LEVEL": "debug"})
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["root"] == ["/srv/ws:rw"]
    assert shown["max_list_depth"] == 5 and shown["log_level"] == "debug"
    assert shown["shutdown_grace"] == 10.0 and shown["metrics_listen"] == ""


def test_serve_with_a_bad_value_exits_2_naming_the_option(tmp_path: Path) -> None:
    result = fsgate("serve", "--root", str(tmp_path), "--max-concurrent-helpers", "many")
    assert result.returncode == 2
    assert result.stderr.startswith("fsgate serve: --max-concurrent-helpers: invalid value")


# --- one table: Config's fields drive flag, variable, TOML key and --help -----------------

def test_the_options_are_the_config_fields_one_to_one() -> None:
    from dataclasses import fields

    assert [o.field for o in OPTIONS] == [f.name for f in fields(Config)]
    assert len({o.name for o in OPTIONS}) == len(OPTIONS)
    for opt in OPTIONS:
        assert getattr(Config(), opt.field) == opt.default
        assert opt.flag == flag(opt.name) and opt.env == f"FSGATE_{opt.name.upper()}"


@pytest.mark.parametrize("opt", OPTIONS, ids=lambda o: o.name)
def test_each_option_of_the_table_is_a_flag_a_variable_and_a_toml_key(opt: Any,
                                                                      tmp_path: Path) -> None:
    text, toml, _ = SAMPLES[opt.name]
    toml_file = tmp_path / "fsgate.toml"
    toml_file.write_text(f"{opt.name} = {toml_value(toml)}\n")
    for cfg in (load([opt.flag, text]), load([], {opt.env: text}),
                load(["--config", str(toml_file)])):
        assert getattr(cfg, opt.field) != opt.default, opt.name


def serve_help() -> dict[str, str]:
    """`fsgate serve --help`, one entry per flag (wide enough that none wraps)."""
    result = fsgate("serve", "--help", env={"COLUMNS": "1000"})
    assert result.returncode == 0, result.stderr
    entries: dict[str, str] = {}
    current = ""
    for line in result.stdout.splitlines():
        words = line.split()
        if words and words[0].startswith("--"):
            current = words[0]
            entries[current] = line.strip()
        elif words and current and line.startswith(" " * 4):  # a long flag's help below it
            entries[current] += " " + line.strip()
        else:
            current = ""
    return entries


def test_serve_help_gives_every_option_a_description_default_unit_and_variable() -> None:
    entries = serve_help()
    for opt in OPTIONS:
        assert opt.help and opt.unit, f"{opt.name}: give it a description and a unit"
        line = entries.get(opt.flag)
        assert line is not None, f"{opt.flag} is not in fsgate serve --help"
        assert opt.help in line, line
        assert f"Default: {opt.describe_default()}." in line, line
        assert f"Unit: {opt.unit}." in line, line
        assert line.endswith(f"Env: {opt.env}"), line
    assert "--config" in entries and "--print-config" in entries


def test_serve_help_shows_defaults_in_their_units() -> None:
    entries = serve_help()
    assert "Default: 17179869184 (16 GiB). Unit: bytes." in entries["--max-read-bytes"]
    assert "Default: 300. Unit: seconds." in entries["--helper-timeout"]
    assert "Default: 127.0.0.1:50051." in entries["--listen"]
    assert "Default: .git/hooks/**, .git/config." in entries["--protected-path"]


@pytest.mark.parametrize("argv", [["--version"], ["serve", "--version"]])
def test_version_prints_the_package_version(argv: list[str]) -> None:
    import importlib.metadata

    result = fsgate(*argv)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"fsgate {importlib.metadata.version('fsgate')}"
