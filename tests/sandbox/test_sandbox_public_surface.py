"""The names the rest of fsgate codes against; a change here is a change of contract."""

from __future__ import annotations

from fsgate_server.sandbox import confine, env, landlock, process, rlimits, seccomp


def test_sandbox_modules_export_exactly_their_documented_names() -> None:
    assert sorted(confine.__all__) == ["BEFORE_REQUEST", "Confinement", "ConfinementError",
                                       "STEPS", "confine", "inherit_to_helpers",
                                       "prepare_paths", "restrict_prepared"]
    assert sorted(env.__all__) == [
        "ALLOWED",
        "ALLOWED_PREFIXES",
        "DEFAULT_PATH",
        "apply_env",
        "helper_env",
    ]
    assert sorted(landlock.__all__) == ["LandlockUnavailable", "RIGHTS", "Ruleset", "abi_version",
                                        "prepare", "restrict"]
    assert sorted(process.__all__) == [
        "close_fds_except",
        "namer",
        "set_no_new_privs",
        "set_parent_death_signal",
    ]
    assert sorted(rlimits.__all__) == [
        "DEFAULT_ADDRESS_SPACE_BYTES",
        "DEFAULT_CPU_SECONDS",
        "DEFAULT_FILE_SIZE_BYTES",
        "DEFAULT_OPEN_FILES",
        "Limits",
        "apply",
        "open_files_for",
    ]
    assert sorted(seccomp.__all__) == ["DENIED", "OPERATION_CALLS", "RLIMIT_CALLS", "Rules",
                                       "compile_filter", "install"]


def test_confinement_fields_are_the_documented_ones() -> None:
    assert list(confine.Confinement.__dataclass_fields__) == [
        "read_exec",
        "read",
        "write",
        "limits",
        "keep_fds",
        "landlock",
        "write_rights",
        "allow_syscalls",
    ]


def test_env_allowlist_is_the_documented_one() -> None:
    assert env.ALLOWED == ("PATH", "TMPDIR", "TMP", "TEMP", "LANG", "LANGUAGE")
    assert env.ALLOWED_PREFIXES == ("LC_",)
