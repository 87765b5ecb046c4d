"""Tests for fsgate_server.policy: path checks, lexical normalization, effective policies."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import pytest
from fsgate.reasons import Reason
from fsgate_server import policy
from fsgate_server.errors import Failure
from fsgate_server.policy import (
    MAX_POLICY_ENTRIES,
    EffectivePolicy,
    RequestPolicy,
    Root,
    check_path_string,
    effective_policy,
    is_cwd_dependent,
    is_within,
    normalize,
    resolve,
)
from hypothesis import given
from hypothesis import strategies as st

WS = Root("/ws", writable=True)
REF = Root("/ref", writable=False)
CEILING = (WS, REF)


def reason_of(exc_info: pytest.ExceptionInfo[Failure]) -> Reason:
    return exc_info.value.reason


def test_public_surface_is_pinned() -> None:
    assert sorted(policy.__all__) == sorted(
        [
            "MAX_NAME_BYTES",
            "MAX_PATH_BYTES",
            "MAX_POLICY_ENTRIES",
            "EffectivePolicy",
            "RequestPolicy",
            "Root",
            "check_path_string",
            "effective_policy",
            "is_cwd_dependent",
            "is_within",
            "normalize",
            "resolve",
        ]
    )


def test_policy_error_carries_reason_message_and_path() -> None:
    error = Failure(Reason.OUTSIDE_POLICY, "nope", "/ws/x")
    assert (error.reason, error.message, error.path, str(error)) == (
        Reason.OUTSIDE_POLICY,
        "nope",
        "/ws/x",
        "nope",
    )


# --- path strings --------------------------------------------------------------------


def test_empty_path_is_invalid_path() -> None:
    with pytest.raises(Failure) as exc:
        check_path_string("")
    assert reason_of(exc) == Reason.INVALID_PATH


def test_nul_byte_is_invalid_path() -> None:
    with pytest.raises(Failure) as exc:
        check_path_string("/ws/a\x00b")
    assert reason_of(exc) == Reason.INVALID_PATH
    assert "NUL" in exc.value.message


def test_lone_surrogate_is_invalid_path() -> None:
    with pytest.raises(Failure) as exc:
        check_path_string("/ws/\udcff")
    assert reason_of(exc) == Reason.INVALID_PATH
    assert "UTF-8" in exc.value.message


def test_component_of_255_bytes_is_accepted() -> None:
    check_path_string("/ws/" + "é" * 127 + "a")  # 2 * 127 + 1 = 255 bytes


def test_component_over_255_bytes_is_invalid_path() -> None:
    with pytest.raises(Failure) as exc:
        check_path_string("/ws/" + "é" * 128)  # 256 bytes, only 128 characters
    assert reason_of(exc) == Reason.INVALID_PATH


def test_path_of_4096_bytes_is_accepted() -> None:
    path = "/a" * 2048
    assert len(path.encode()) == 4096
    check_path_string(path)


def test_path_over_4096_bytes_is_invalid_path() -> None:
    with pytest.raises(Failure) as exc:
        check_path_string("/a" * 2048 + "/")
    assert reason_of(exc) == Reason.INVALID_PATH


def test_path_length_counts_utf8_bytes_not_characters() -> None:
    path = "/" + "/".join(["€" * 80] * 20)  # 1620 characters, 4820 bytes
    with pytest.raises(Failure) as exc:
        check_path_string(path)
    assert reason_of(exc) == Reason.INVALID_PATH


def test_relative_path_over_4096_bytes_once_joined_onto_cwd_is_invalid_path() -> None:
    cwd = "/c" * 1500  # 3000 bytes
    path = "p/" * 1000  # 2000 bytes
    with pytest.raises(Failure) as exc:
        normalize(path, cwd)
    assert reason_of(exc) == Reason.INVALID_PATH


# --- normalize -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/ws", "/ws"),
        ("/ws/", "/ws"),
        ("/ws/./a", "/ws/a"),
        ("/ws//a///b", "/ws/a/b"),
        ("//ws", "/ws"),
        ("///", "/"),
        ("/ws/a/..", "/ws"),
        ("/ws/a/../../b", "/b"),
        ("/..", "/"),
        ("/../../etc", "/etc"),
        ("/ws/.../a", "/ws/.../a"),
        ("/ws/..a/a..", "/ws/..a/a.."),
    ],
)
def test_normalize_resolves_dots_and_slashes_lexically(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_relative_path_is_joined_onto_cwd() -> None:
    assert normalize("a/./b/../c", "/ws/sub") == "/ws/sub/a/c"
    assert normalize(".", "/ws/sub/") == "/ws/sub"
    assert normalize("../..", "/ws") == "/"


def test_relative_path_without_cwd_fails_cwd_required() -> None:
    with pytest.raises(Failure) as exc:
        normalize("a/b")
    assert reason_of(exc) == Reason.CWD_REQUIRED


def test_relative_cwd_fails_invalid_policy() -> None:
    with pytest.raises(Failure) as exc:
        normalize("a", "ws")
    assert reason_of(exc) == Reason.INVALID_POLICY


def test_cwd_with_nul_byte_fails_invalid_policy() -> None:
    with pytest.raises(Failure) as exc:
        normalize("a", "/ws\x00")
    assert reason_of(exc) == Reason.INVALID_POLICY


def test_absolute_path_ignores_cwd_entirely() -> None:
    assert normalize("/ws/a", "not absolute \x00 \udcff") == "/ws/a"


@pytest.mark.parametrize(
    "name",
    ["~", "~root", "%2e%2e", "%2F", " a ", "a\t", "\u00e9", "e\u0301", "A", "\u212b", "a\\b"],
)
def test_names_are_taken_literally(name: str) -> None:
    assert normalize(f"/ws/{name}") == f"/ws/{name}"
    assert normalize(name, "/ws") == f"/ws/{name}"


def test_normalize_never_touches_the_file_system(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    # Lexical: "link/.." is tmp_path even though the link's target has another parent.
    assert normalize(f"{tmp_path}/link/../x") == f"{tmp_path}/x"
    assert normalize(f"{tmp_path}/link/x") == f"{tmp_path}/link/x"
    assert normalize("/does/not/exist/..") == "/does/not"


# --- is_within -----------------------------------------------------------------------


def test_prefix_sibling_is_not_within_root() -> None:
    assert not is_within("/ws2", "/ws")
    assert not is_within("/ws2/a", "/ws")
    assert not is_within("/ws-old", "/ws")


def test_root_is_within_itself() -> None:
    assert is_within("/ws", "/ws")
    assert is_within("/ws/", "/ws")


def test_descendant_is_within_root() -> None:
    assert is_within("/ws/a/b", "/ws")


def test_parent_is_not_within_child() -> None:
    assert not is_within("/ws", "/ws/a")


def test_everything_is_within_slash() -> None:
    assert is_within("/", "/")
    assert is_within("/ws/a", "/")


def test_is_within_judges_the_normalized_form() -> None:
    assert not is_within("/ws/../etc", "/ws")
    assert is_within("/ws/./a", "/ws")
    assert is_within("/etc/../ws/a", "/ws")


def test_is_within_refuses_relative_paths() -> None:
    with pytest.raises(ValueError, match="absolute"):
        is_within("ws/a", "/ws")
    with pytest.raises(ValueError, match="absolute"):
        is_within("/ws/a", "ws")


# --- is_cwd_dependent ----------------------------------------------------------------


def test_absolute_request_is_not_cwd_dependent() -> None:
    assert not is_cwd_dependent("/ws/a", None)
    assert not is_cwd_dependent("/ws/a", RequestPolicy(readable_roots=("/ws",), cwd="rel"))


def test_relative_path_makes_request_cwd_dependent() -> None:
    assert is_cwd_dependent("a", None)
    assert is_cwd_dependent("./a", RequestPolicy())


@pytest.mark.parametrize("field", ["readable_roots", "writable_roots", "denied_paths"])
def test_any_relative_policy_entry_makes_request_cwd_dependent(field: str) -> None:
    request = RequestPolicy(**{field: ("/abs", "rel")})  # type: ignore[arg-type]  # field by name
    assert is_cwd_dependent("/ws/a", request)


# --- Root ----------------------------------------------------------------------------


def test_root_without_suffix_is_read_write() -> None:
    assert Root.parse("/ws") == Root("/ws", writable=True)


def test_root_suffixes_set_access() -> None:
    assert Root.parse("/ws:rw") == Root("/ws", writable=True)
    assert Root.parse("/ws:ro") == Root("/ws", writable=False)


def test_relative_root_is_made_absolute_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Root.parse("data/./x/:ro") == Root(f"{os.getcwd()}/data/x", writable=False)


def test_root_is_normalized_lexically_not_symlink_resolved(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert Root.parse(f"{tmp_path}//link/./").path == f"{tmp_path}/link"


def test_root_path_containing_a_colon_needs_an_explicit_suffix() -> None:
    assert Root.parse("/data/a:b:ro") == Root("/data/a:b", writable=False)
    with pytest.raises(ValueError, match="explicit suffix"):
        Root.parse("/data/a:b")


@pytest.mark.parametrize("spec", ["/ws:rx", "/ws:RW", "/ws:", "/ws:read-only"])
def test_root_with_unknown_suffix_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="suffix"):
        Root.parse(spec)


@pytest.mark.parametrize("spec", ["", ":rw", ":ro"])
def test_root_with_empty_path_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        Root.parse(spec)


def test_root_with_nul_byte_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        Root.parse("/ws\x00:ro")


def test_root_constructed_directly_is_normalized() -> None:
    assert Root("/ws/a/../b/", writable=False).path == "/ws/b"


def test_root_constructed_directly_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        Root("ws", writable=True)


# --- RequestPolicy -------------------------------------------------------------------


def test_request_policy_stores_any_sequence_as_a_tuple() -> None:
    request = RequestPolicy(readable_roots=["/ws"])  # type: ignore[arg-type]  # a list, on purpose
    assert request.readable_roots == ("/ws",)


def test_request_policy_refuses_a_bare_string_for_a_list() -> None:
    # Iterating "/ws" would yield the entries "/", "w", "s": "/" alone would widen to everything.
    with pytest.raises(TypeError, match="readable_roots"):
        RequestPolicy(readable_roots="/ws")  # type: ignore[arg-type]  # the misuse under test


# --- effective_policy ----------------------------------------------------------------


def test_no_request_policy_reads_every_root_and_writes_rw_roots() -> None:
    assert effective_policy(CEILING, None) == EffectivePolicy(
        readable=("/ref", "/ws"), writable=("/ws",), denied=()
    )


def test_empty_readable_roots_mean_every_ceiling_root() -> None:
    effective = effective_policy(CEILING, RequestPolicy())
    assert effective.readable == ("/ref", "/ws")


def test_empty_writable_roots_mean_nothing_writable() -> None:
    effective = effective_policy(CEILING, RequestPolicy())
    assert effective.writable == ()
    assert not effective.can_write("/ws/a")


def test_readable_entry_inside_a_root_narrows_to_the_entry() -> None:
    effective = effective_policy(CEILING, RequestPolicy(readable_roots=("/ws/src",)))
    assert effective.readable == ("/ws/src",)
    assert effective.can_read("/ws/src/main.py")
    assert not effective.can_read("/ws/other")
    assert not effective.can_read("/ref/doc")


def test_readable_entry_above_a_root_narrows_to_the_root() -> None:
    effective = effective_policy(CEILING, RequestPolicy(readable_roots=("/",)))
    assert effective.readable == ("/ref", "/ws")
    assert not effective.can_read("/etc/passwd")


def test_request_entries_outside_ceiling_are_dropped_not_failed() -> None:
    request = RequestPolicy(
        readable_roots=("/etc", "/ws/src", "/ws2"),
        writable_roots=("/tmp", "/ws/out"),
    )
    effective = effective_policy(CEILING, request)
    assert effective.readable == ("/ws/out", "/ws/src")
    assert effective.writable == ("/ws/out",)


def test_readable_entries_all_outside_ceiling_grant_nothing_not_everything() -> None:
    effective = effective_policy(CEILING, RequestPolicy(readable_roots=("/etc",)))
    assert effective.readable == ()
    assert not effective.can_read("/ws/a")


def test_writable_entry_in_a_read_only_root_is_dropped() -> None:
    effective = effective_policy(CEILING, RequestPolicy(writable_roots=("/ref/x",)))
    assert effective.writable == ()
    assert not effective.can_write("/ref/x/y")


def test_writable_entries_are_readable_too() -> None:
    request = RequestPolicy(readable_roots=("/ws/src",), writable_roots=("/ws/out",))
    effective = effective_policy(CEILING, request)
    assert effective.readable == ("/ws/out", "/ws/src")
    assert effective.can_read("/ws/out/result.txt")


def test_nested_and_duplicate_entries_are_collapsed() -> None:
    request = RequestPolicy(
        readable_roots=("/ws/a", "/ws/a/b", "/ws/a/", "/ws/c/d", "/ws/c"),
        writable_roots=("/ws/a/b", "/ws/a/b/c"),
        denied_paths=("/ws/a/x", "/ws/a/x/y", "/ws/a/x"),
    )
    effective = effective_policy(CEILING, request)
    assert effective == EffectivePolicy(
        readable=("/ws/a", "/ws/c"), writable=("/ws/a/b",), denied=("/ws/a/x",)
    )


def test_nested_ceiling_roots_are_collapsed() -> None:
    ceiling = (Root("/ws", True), Root("/ws/sub", False), Root("/ws", False))
    assert effective_policy(ceiling, None) == EffectivePolicy(("/ws",), ("/ws",), ())


def test_nested_read_only_root_inside_a_read_write_root_stays_writable() -> None:
    # The ceiling is a union; a nested :ro root does not subtract write access.
    ceiling = (Root("/ws", True), Root("/ws/ro", False))
    assert effective_policy(ceiling, None).can_write("/ws/ro/x")


def test_read_write_root_inside_a_read_only_root_is_writable_only_there() -> None:
    ceiling = (Root("/ws", False), Root("/ws/out", True))
    effective = effective_policy(ceiling, RequestPolicy(writable_roots=("/ws",)))
    assert effective.writable == ("/ws/out",)
    assert effective.can_read("/ws/a")


def test_effective_lists_are_sorted() -> None:
    ceiling = (Root("/z", True), Root("/a", True), Root("/m", False))
    effective = effective_policy(ceiling, RequestPolicy(writable_roots=("/z", "/a")))
    assert effective.readable == ("/a", "/m", "/z")
    assert effective.writable == ("/a", "/z")


def test_denied_paths_outside_readable_roots_are_dropped() -> None:
    request = RequestPolicy(readable_roots=("/ws/src",), denied_paths=("/ws/other", "/etc"))
    assert effective_policy(CEILING, request).denied == ()


def test_denied_path_inside_a_root_is_kept_and_denies_its_subtree() -> None:
    request = RequestPolicy(writable_roots=("/ws",), denied_paths=("/ws/.git",))
    effective = effective_policy(CEILING, request)
    assert effective.denied == ("/ws/.git",)
    assert not effective.can_read("/ws/.git/config")
    assert not effective.can_write("/ws/.git/config")
    assert effective.can_read("/ws/.gitignore")


def test_root_inside_a_denied_path_is_removed() -> None:
    request = RequestPolicy(
        readable_roots=("/ws/src", "/ref"), writable_roots=("/ws/out",), denied_paths=("/ws",)
    )
    effective = effective_policy(CEILING, request)
    assert effective == EffectivePolicy(readable=("/ref",), writable=(), denied=())


def test_denied_path_equal_to_a_root_removes_the_root() -> None:
    effective = effective_policy(CEILING, RequestPolicy(denied_paths=("/ref/",)))
    assert effective.readable == ("/ws",)


def test_relative_entries_are_resolved_against_cwd() -> None:
    request = RequestPolicy(
        readable_roots=("src", "../ref"),
        writable_roots=("./out",),
        denied_paths=("src/secret",),
        cwd="/ws",
    )
    assert effective_policy(CEILING, request) == EffectivePolicy(
        readable=("/ref", "/ws/out", "/ws/src"), writable=("/ws/out",), denied=("/ws/src/secret",)
    )


def test_relative_entry_without_cwd_fails_cwd_required() -> None:
    with pytest.raises(Failure) as exc:
        effective_policy(CEILING, RequestPolicy(denied_paths=("secret",)))
    assert reason_of(exc) == Reason.CWD_REQUIRED


def test_empty_ceiling_grants_nothing() -> None:
    assert effective_policy((), None) == EffectivePolicy((), (), ())
    assert effective_policy((), RequestPolicy(readable_roots=("/",))) == EffectivePolicy((), (), ())


def test_dotdot_in_an_entry_cannot_reach_outside_the_ceiling() -> None:
    effective = effective_policy(CEILING, RequestPolicy(readable_roots=("/ws/../etc",)))
    assert effective.readable == ()


# --- resolve -------------------------------------------------------------------------


def test_resolve_returns_normalized_path_and_effective_policy() -> None:
    path, effective = resolve("/ws/a/./b/../c", None, CEILING, write=False)
    assert path == "/ws/a/c"
    assert effective == effective_policy(CEILING, None)


def test_path_outside_ceiling_fails_outside_policy() -> None:
    with pytest.raises(Failure) as exc:
        resolve("/etc/passwd", None, CEILING, write=False)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_dotdot_cannot_escape_root() -> None:
    with pytest.raises(Failure) as exc:
        resolve("/ws/../etc/passwd", None, CEILING, write=False)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY
    assert exc.value.path == "/etc/passwd"


def test_relative_dotdot_cannot_escape_root() -> None:
    with pytest.raises(Failure) as exc:
        resolve("../../etc/passwd", RequestPolicy(cwd="/ws/sub"), CEILING, write=False)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_dotdot_past_slash_stays_at_slash_and_outside_policy() -> None:
    with pytest.raises(Failure) as exc:
        resolve("/../../../ws2", None, CEILING, write=False)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_prefix_sibling_of_a_root_fails_outside_policy() -> None:
    with pytest.raises(Failure) as exc:
        resolve("/ws2/a", None, CEILING, write=False)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_parent_of_a_root_fails_outside_policy() -> None:
    # Listing "/" would reveal what lies next to the roots.
    with pytest.raises(Failure) as exc:
        resolve("/", None, CEILING, write=False)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_path_inside_a_denied_path_fails_outside_policy() -> None:
    request = RequestPolicy(denied_paths=("/ws/secrets",))
    with pytest.raises(Failure) as exc:
        resolve("/ws/secrets/key", request, CEILING, write=False)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_denied_path_does_not_deny_its_prefix_sibling() -> None:
    request = RequestPolicy(denied_paths=("/ws/secret",))
    assert resolve("/ws/secret2", request, CEILING, write=False)[0] == "/ws/secret2"


def test_dotdot_cannot_dodge_a_denied_path() -> None:
    request = RequestPolicy(denied_paths=("/ws/secret",))
    with pytest.raises(Failure) as exc:
        resolve("/ws/public/../secret/key", request, CEILING, write=False)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_write_without_request_policy_is_allowed_in_a_read_write_root() -> None:
    assert resolve("/ws/a", None, CEILING, write=True)[0] == "/ws/a"


def test_write_to_a_read_only_root_fails_outside_policy() -> None:
    resolve("/ref/a", None, CEILING, write=False)
    with pytest.raises(Failure) as exc:
        resolve("/ref/a", None, CEILING, write=True)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_write_outside_the_request_writable_roots_fails_outside_policy() -> None:
    request = RequestPolicy(writable_roots=("/ws/out",))
    assert resolve("/ws/out/x", request, CEILING, write=True)[0] == "/ws/out/x"
    assert resolve("/ws/src/x", request, CEILING, write=False)[0] == "/ws/src/x"
    with pytest.raises(Failure) as exc:
        resolve("/ws/src/x", request, CEILING, write=True)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_write_with_empty_writable_roots_fails_outside_policy() -> None:
    with pytest.raises(Failure) as exc:
        resolve("/ws/a", RequestPolicy(), CEILING, write=True)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_relative_request_path_without_cwd_fails_cwd_required() -> None:
    with pytest.raises(Failure) as exc:
        resolve("a.txt", None, CEILING, write=False)
    assert reason_of(exc) == Reason.CWD_REQUIRED
    with pytest.raises(Failure) as exc:
        resolve("a.txt", RequestPolicy(readable_roots=("/ws",)), CEILING, write=False)
    assert reason_of(exc) == Reason.CWD_REQUIRED


@pytest.mark.parametrize("field", ["readable_roots", "writable_roots", "denied_paths"])
def test_relative_policy_entry_without_cwd_fails_cwd_required(field: str) -> None:
    request = RequestPolicy(**{field: ("rel",)})  # type: ignore[arg-type]  # field by name
    with pytest.raises(Failure) as exc:
        resolve("/ws/a", request, CEILING, write=False)
    assert reason_of(exc) == Reason.CWD_REQUIRED


def test_relative_path_is_resolved_against_cwd() -> None:
    request = RequestPolicy(cwd="/ws/sub")
    assert resolve("./a/../b", request, CEILING, write=False)[0] == "/ws/sub/b"


def test_unused_cwd_is_ignored_even_when_it_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    request = RequestPolicy(readable_roots=("/ws",), cwd=str(missing))
    assert resolve("/ws/a", request, CEILING, write=False)[0] == "/ws/a"
    assert not missing.exists()


@pytest.mark.parametrize(
    "cwd", ["relative/dir", "..", "/ws\x00", "/\udcff", "/" + "x" * 300, "/a" * 3000]
)
def test_unused_cwd_is_ignored_even_when_it_is_invalid(cwd: str) -> None:
    request = RequestPolicy(writable_roots=("/ws/out",), cwd=cwd)
    assert resolve("/ws/out/a", request, CEILING, write=True)[0] == "/ws/out/a"
    assert effective_policy(CEILING, request).writable == ("/ws/out",)


def test_cwd_need_not_lie_inside_the_policy() -> None:
    request = RequestPolicy(cwd="/elsewhere")
    assert resolve("../ws/a", request, CEILING, write=False)[0] == "/ws/a"


@pytest.mark.parametrize("cwd", ["ws", "./ws", "/ws\x00", "/\udcff", "/" + "x" * 256])
def test_used_invalid_cwd_fails_invalid_policy(cwd: str) -> None:
    with pytest.raises(Failure) as exc:
        resolve("a", RequestPolicy(cwd=cwd), CEILING, write=False)
    assert reason_of(exc) == Reason.INVALID_POLICY
    assert "sandbox.cwd" in exc.value.message


@pytest.mark.parametrize("field", ["readable_roots", "writable_roots", "denied_paths"])
@pytest.mark.parametrize("bad", ["", "/ws/\x00", "/ws/\udcff", "/ws/" + "n" * 256])
def test_invalid_policy_entry_fails_invalid_policy_and_names_the_entry(
    field: str, bad: str
) -> None:
    request = RequestPolicy(**{field: ("/ws/ok", bad)})  # type: ignore[arg-type]  # field by name
    with pytest.raises(Failure) as exc:
        resolve("/ws/ok", request, CEILING, write=False)
    assert reason_of(exc) == Reason.INVALID_POLICY
    assert f"sandbox.{field}[1]" in exc.value.message
    with pytest.raises(Failure) as exc:
        effective_policy(CEILING, request)
    assert reason_of(exc) == Reason.INVALID_POLICY


def test_invalid_entry_is_reported_before_a_missing_cwd() -> None:
    request = RequestPolicy(readable_roots=("rel",), denied_paths=("/ws/\x00",))
    with pytest.raises(Failure) as exc:
        resolve("/ws/a", request, CEILING, write=False)
    assert reason_of(exc) == Reason.INVALID_POLICY


def test_invalid_request_path_fails_invalid_path_before_anything_else() -> None:
    request = RequestPolicy(readable_roots=("\x00",))
    with pytest.raises(Failure) as exc:
        resolve("rel\x00", request, CEILING, write=False)
    assert reason_of(exc) == Reason.INVALID_PATH


@pytest.mark.parametrize("path", ["", "/ws/\x00", "/ws/\udcff", "/ws/" + "n" * 256, "/a" * 2049])
def test_invalid_path_error_does_not_echo_the_path(path: str) -> None:
    with pytest.raises(Failure) as exc:
        resolve(path, None, CEILING, write=False)
    assert reason_of(exc) == Reason.INVALID_PATH
    assert exc.value.path == ""


def test_outside_policy_error_carries_the_normalized_path() -> None:
    with pytest.raises(Failure) as exc:
        resolve("/etc//./passwd", None, CEILING, write=False)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY
    assert exc.value.path == "/etc/passwd"
    assert "/etc/passwd" in exc.value.message


@pytest.mark.parametrize("field", ["readable_roots", "writable_roots", "denied_paths"])
def test_too_many_policy_entries_fail_invalid_policy(field: str) -> None:
    entries = tuple(f"/ws/{i}" for i in range(MAX_POLICY_ENTRIES + 1))
    request = RequestPolicy(**{field: entries})  # type: ignore[arg-type]  # field by name
    with pytest.raises(Failure) as exc:
        resolve("/ws/a", request, CEILING, write=False)
    assert reason_of(exc) == Reason.INVALID_POLICY


def test_names_are_taken_literally_in_policy_checks() -> None:
    # "%2e%2e" is not "..", and "~" is not a home directory.
    request = RequestPolicy(readable_roots=("/ws/~",))
    assert resolve("/ws/~/%2e%2e/x", request, CEILING, write=False)[0] == "/ws/~/%2e%2e/x"
    with pytest.raises(Failure) as exc:
        resolve("/ws/%7E/x", request, CEILING, write=False)
    assert reason_of(exc) == Reason.OUTSIDE_POLICY


def test_case_variant_of_a_denied_path_is_denied_too() -> None:
    # A case-insensitive file system reaches the same file through it (issue 4).
    request = RequestPolicy(denied_paths=("/ws/Secret",))
    with pytest.raises(Failure) as err:
        resolve("/ws/secret/key", request, CEILING, write=False)
    assert err.value.reason is Reason.OUTSIDE_POLICY


def test_unicode_normalization_variant_of_a_denied_path_is_a_different_name() -> None:
    request = RequestPolicy(denied_paths=("/ws/\u00e9",))
    assert resolve("/ws/e\u0301", request, CEILING, write=False)[0] == "/ws/e\u0301"


# --- properties ----------------------------------------------------------------------

# Few distinct names, so that generated paths collide, nest and cancel out often.
_NAMES = st.sampled_from(["a", "b", "ab", "a.", ".a", "...", "é", " "])
_SEGMENTS = st.one_of(_NAMES, st.sampled_from([".", "..", ""]))
_ANY_NAME = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00/"),
    min_size=1,
    max_size=20,
)


@st.composite
def raw_paths(draw: st.DrawFn, segments: st.SearchStrategy[str] = _SEGMENTS) -> str:
    return "/" + "/".join(draw(st.lists(segments, max_size=8)))


@st.composite
def clean_paths(draw: st.DrawFn) -> str:
    return "/" + "/".join(draw(st.lists(_NAMES, max_size=4)))


def _oracle_parts(path: str) -> list[str]:
    stack: list[str] = []
    for name in path.split("/"):
        if name == "..":
            stack = stack[:-1]
        elif name not in ("", "."):
            stack.append(name)
    return stack


@given(raw_paths())
def test_normalize_is_idempotent(path: str) -> None:
    assert normalize(normalize(path)) == normalize(path)


@given(st.one_of(raw_paths(), raw_paths(st.one_of(_SEGMENTS, _ANY_NAME))))
def test_normalize_yields_absolute_path_without_dot_dotdot_or_empty_components(
    path: str,
) -> None:
    result = normalize(path)
    assert result.startswith("/")
    if result != "/":
        assert all(name not in ("", ".", "..") for name in result[1:].split("/"))


@given(raw_paths())
def test_normalize_agrees_with_posixpath_normpath(path: str) -> None:
    expected = posixpath.normpath(path)
    if expected.startswith("//"):  # POSIX keeps a leading "//"; Linux does not care
        expected = "/" + expected.lstrip("/")
    assert normalize(path) == expected


@given(st.lists(_SEGMENTS, max_size=8), clean_paths())
def test_relative_normalize_equals_absolute_normalize_of_the_join(
    segments: list[str], cwd: str
) -> None:
    relative = "/".join([".", *segments])  # a leading "" would make it absolute
    assert normalize(relative, cwd) == normalize(f"{cwd}/{relative}")


@given(raw_paths(), raw_paths())
def test_is_within_agrees_with_a_component_list_oracle(path: str, root: str) -> None:
    path_parts, root_parts = _oracle_parts(path), _oracle_parts(root)
    assert is_within(path, root) == (path_parts[: len(root_parts)] == root_parts)


@given(clean_paths(), st.lists(st.one_of(_NAMES, st.sampled_from([".", ""])), max_size=8))
def test_root_plus_components_without_dotdot_stays_within_root(root: str, names: list[str]) -> None:
    path = normalize(root + "/" + "/".join(names))
    assert is_within(path, root)
    assert is_within(path, normalize(root))


@given(raw_paths(), clean_paths())
def test_path_with_dotdot_is_within_root_only_if_its_normalized_form_is(
    path: str, root: str
) -> None:
    assert is_within(path, root) == is_within(normalize(path), root)
    effective = effective_policy([Root(root, writable=True)], None)
    assert effective.can_read(path) == effective.can_read(normalize(path))


_ROOTS = st.lists(st.builds(Root, clean_paths(), st.booleans()), max_size=3)
_ENTRIES = st.lists(raw_paths(), max_size=3).map(tuple)
_REQUESTS = st.one_of(
    st.none(), st.builds(RequestPolicy, _ENTRIES, _ENTRIES, _ENTRIES, st.just(""))
)


@given(_ROOTS, _REQUESTS, raw_paths())
def test_effective_policy_never_exceeds_the_ceiling_or_the_request(
    ceiling: list[Root], request: RequestPolicy | None, path: str
) -> None:
    effective = effective_policy(ceiling, request)
    path = normalize(path)
    if effective.can_read(path):
        assert any(is_within(path, root.path) for root in ceiling)
    if effective.can_write(path):
        assert effective.can_read(path)
        assert any(is_within(path, root.path) for root in ceiling if root.writable)
    if request is None:
        return
    if effective.can_read(path):
        allowed = request.readable_roots + request.writable_roots
        assert not request.readable_roots or any(is_within(path, e) for e in allowed)
        assert not any(is_within(path, denied) for denied in request.denied_paths)
    if effective.can_write(path):
        assert any(is_within(path, e) for e in request.writable_roots)


@given(_ROOTS, _REQUESTS)
def test_effective_policy_lists_are_sorted_minimal_and_consistent(
    ceiling: list[Root], request: RequestPolicy | None
) -> None:
    effective = effective_policy(ceiling, request)
    for entries in (effective.readable, effective.writable, effective.denied):
        assert list(entries) == sorted(set(entries))
        assert all(normalize(e) == e for e in entries)
        assert not any(a != b and is_within(a, b) for a in entries for b in entries)
    assert all(any(is_within(w, r) for r in effective.readable) for w in effective.writable)
    assert all(
        any(is_within(d, r) and d != r for r in effective.readable) for d in effective.denied
    )


@given(_ROOTS, _REQUESTS, raw_paths(), st.booleans())
def test_resolve_agrees_with_the_effective_policy(
    ceiling: list[Root], request: RequestPolicy | None, path: str, write: bool
) -> None:
    effective = effective_policy(ceiling, request)
    allowed = effective.can_write(path) if write else effective.can_read(path)
    try:
        normalized, returned = resolve(path, request, ceiling, write=write)
    except Failure as exc:
        assert exc.reason == Reason.OUTSIDE_POLICY
        assert not allowed
    else:
        assert allowed
        assert (normalized, returned) == (normalize(path), effective)


# --- protected paths: matched below the server's roots ------------------------------------

@pytest.mark.parametrize(("path", "sandbox"), [
    ("/ws/.git/config", RequestPolicy(writable_roots=("/ws/.git",))),
    ("/ws/.git/hooks/pre-commit", RequestPolicy(writable_roots=("/ws/.git/hooks",))),
    ("config", RequestPolicy(writable_roots=(".",), cwd="/ws/.git")),
    ("/ws/.GIT/CONFIG", RequestPolicy(writable_roots=("/ws/.GIT",))),
])
def test_request_narrowed_to_dot_git_cannot_write_protected_paths(
        path: str, sandbox: RequestPolicy) -> None:
    with pytest.raises(Failure) as err:
        policy.resolve(path, sandbox, CEILING, write=True, protected=(".git/config",
                                                                      ".git/hooks/**"))
    assert reason_of(err) is Reason.PROTECTED_PATH


def test_effective_policy_carries_the_server_roots_to_the_helper() -> None:
    from fsgate_server.helper import codec
    from fsgate_server.helper.messages import WriteArgs

    _path, eff = policy.resolve("/ws/.git/x", RequestPolicy(writable_roots=("/ws/.git",)),
                                CEILING, write=True, protected=(".git/config",))
    assert eff.protection_roots == ("/ref", "/ws")
    back = codec.decode_request(codec.encode(WriteArgs("/ws/.git/x", eff, max_bytes=1))).policy
    assert back == eff
    assert not back.can_write("/ws/.git/config") and back.can_write("/ws/.git/x")


def test_an_entry_below_a_root_served_through_a_symlink_is_granted_under_both_names() -> None:
    ceiling = (Root("/link-ws", True), Root("/real-ws", True, alias_of="/link-ws"))
    _, eff = resolve("/link-ws/sub/f", RequestPolicy(readable_roots=("/link-ws/sub",),
                                                     writable_roots=("/link-ws/sub",),
                                                     denied_paths=("/real-ws/sub/x",)),
                     ceiling, write=True)
    assert eff.writable == ("/link-ws/sub", "/real-ws/sub")
    assert eff.can_write("/real-ws/sub/f") and not eff.can_read("/real-ws/other")
    assert not eff.can_read("/link-ws/sub/x") and not eff.can_read("/real-ws/sub/x")
