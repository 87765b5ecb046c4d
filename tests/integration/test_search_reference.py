"""Search agrees with ripgrep, and Glob with a reference walk on pathspec, on a generated
tree of a few hundred files: the same matches with the same line numbers, the same paths.

The tree has what changes answers: nested directories, hidden files and directories,
.gitignore and .ignore files at several levels (with negations), binary files, symlinks to
files and directories, names that sort differently bytewise than per directory.
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pathspec
import pytest
from fsgate import Client, FileType

RG = shutil.which("rg") or shutil.which("rg", path=str(Path(sys.executable).parent))
WORDS = ["alpha", "beta", "gamma", "delta", "needle", "Needle", "haystack", "foo_bar",
         "x1", "a.b", "axb", "TODO", "fixme", "λambda", "tab\there"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~300 files; deterministic. Served below the session server's root by a symlink-free
    copy: tests copy it into their ``ws``."""
    rnd = random.Random(13)
    root = tmp_path_factory.mktemp("reference-tree")
    dirs = [Path(p) for p in ("", "src", "src/pkg", "src/pkg-x", "src/pkg.d", "docs",
                              ".hidden", "build", "src/pkg/deep/er", "vendor", "a-b", "a")]
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    exts = [".py", ".md", ".txt", ".log", ".c", ""]
    for i in range(300):
        d = dirs[i % len(dirs)]
        name = f"f{i:03d}{exts[i % len(exts)]}"
        lines = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 8)))
                 for _ in range(rnd.randint(0, 40))]
        (root / d / name).write_text("\n".join(lines) + ("\n" if i % 7 else ""))
    (root / ".hidden-file.txt").write_text("needle hidden\n")
    (root / "src" / "bin.dat").write_bytes(b"needle\x00binary")
    (root / ".gitignore").write_text("*.log\nbuild/\n!keep.log\n")
    (root / "keep.log").write_text("needle kept\n")
    (root / "src" / ".gitignore").write_text("pkg-x/\n!f001.log\n")
    (root / "src" / "f001.log").write_text("needle again\n")
    (root / "vendor" / ".ignore").write_text("*\n!*.c\n")
    (root / "link-to-file").symlink_to("docs/f005.md")
    (root / "link-to-dir").symlink_to("src")
    return root


@pytest.fixture
def copy(tree: Path, ws: Path) -> Path:
    dest = ws / "t"
    shutil.copytree(tree, dest, symlinks=True)
    return dest


def rg(root: Path, *args: str) -> list[tuple[str, int, str]]:
    assert RG is not None
    done = subprocess.run([RG, "--no-config", "--no-require-git", "--no-ignore-global",
                           "--no-messages", "--line-number", "--with-filename", "--no-heading",
                           "--color", "never", "--null", *args, "--", "."],
                          capture_output=True, check=False, cwd=root)  # -g is relative to cwd
    assert done.returncode in (0, 1), done.stderr
    out = []
    for raw in done.stdout.decode().splitlines():
        path, rest = raw.split("\0", 1)
        number, line = rest.split(":", 1)
        out.append((str(root / path.removeprefix("./")), int(number), line))
    return sorted(out)


def ours(client: Client, root: Path, pattern: str, **kw: object) -> list[tuple[str, int, str]]:
    result = client.search(str(root), pattern, max_matches=10_000, **kw)  # type: ignore[arg-type]  # kw
    got = sorted((m.path, m.line_number, m.line) for m in result)
    assert result.summary is not None and not result.summary.truncated
    return got


CASES = [
    ("needle", {}, []),
    ("needle", {"ignore_case": True}, ["-i"]),
    (r"\bfoo_\w+", {}, []),
    (r"^(alpha|beta)\b.*gamma$", {}, []),
    ("a.b", {"fixed_strings": True}, ["-F"]),
    ("a.b", {}, []),
    (r"[λx]\d?", {}, []),
    ("needle", {"include_hidden": True}, ["--hidden"]),
    ("needle", {"include_ignored": True}, ["--no-ignore"]),
    ("needle", {"include_hidden": True, "include_ignored": True}, ["--hidden", "--no-ignore"]),
    ("TODO", {"include_globs": ["*.py", "docs/**"]}, ["-g", "*.py", "-g", "docs/**"]),
    ("TODO", {"exclude_globs": ["src/"]}, ["-g", "!src/"]),
    ("tab\there", {"fixed_strings": True}, ["-F"]),
]


@pytest.mark.skipif(RG is None, reason="rg not installed (the ripgrep wheel of the dev extra)")
@pytest.mark.parametrize(("pattern", "kw", "flags"), CASES,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_search_agrees_with_ripgrep(client: Client, copy: Path, pattern: str,
                                    kw: dict[str, object], flags: list[str]) -> None:
    expected = rg(copy, *flags, pattern)
    assert expected, "the case should find something"
    assert ours(client, copy, pattern, **kw) == expected


def test_search_of_everything_agrees_with_grep(client: Client, copy: Path) -> None:
    # grep -r knows no ignore files and no hidden names: compare with both switched on.
    done = subprocess.run(["grep", "-rnIH", "--null", "-E", "needle|gamma", str(copy)],
                          capture_output=True, check=False)
    expected = []
    for raw in done.stdout.decode().splitlines():
        path, rest = raw.split("\0", 1)
        number, line = rest.split(":", 1)
        expected.append((path, int(number), line))
    assert ours(client, copy, "needle|gamma", include_hidden=True,
                include_ignored=True) == sorted(expected)


# --- Glob against a reference walk on pathspec -----------------------------------------------

def _pattern_matches(pattern: str, rel: str, is_dir: bool) -> bool:
    """pathspec's gitignore regex for ``pattern``, on the entry's own path (a directory
    checked with a trailing slash): not through a match of one of its parents."""
    (pat,) = pathspec.GitIgnoreSpec.from_lines([pattern]).patterns
    assert pat.regex is not None
    probe = rel + "/" if is_dir else rel
    m = pat.regex.match(probe)
    if m is None:
        return False
    if "ps_d" in pat.regex.groupindex:  # "name" or "name/": the match must be the whole path
        return m.end() == len(probe) and (is_dir or m.group("ps_d") is None)
    return m.end() < len(probe)  # "dir/**": everything strictly inside


def reference_glob(root: Path, patterns: list[str], *, hidden: bool, ignored: bool,
                   exclude: list[str]) -> list[tuple[str, str]]:
    excl = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
    out: list[tuple[str, str]] = []

    def walk(d: Path, prefix: str, ignores: list[tuple[str, pathspec.GitIgnoreSpec]]) -> None:
        if not ignored:
            text = "\n".join((d / n).read_text() for n in (".gitignore", ".ignore")
                             if (d / n).is_file())
            if text:
                ignores = [*ignores, (prefix, pathspec.GitIgnoreSpec.from_lines(
                    text.splitlines()))]
        for entry in sorted(os.scandir(d), key=lambda e: e.name):
            rel = prefix + entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            probe = rel + ("/" if is_dir else "")
            if not hidden and entry.name.startswith("."):
                continue
            if excl is not None and excl.match_file(probe):
                continue
            decided = None
            for p, spec in reversed(ignores):
                decided = spec.check_file(probe[len(p):]).include
                if decided is not None:
                    break
            if decided:
                continue
            if any(_pattern_matches(p, rel, is_dir) for p in patterns):
                kind = "dir" if is_dir else "link" if entry.is_symlink() else "file"
                out.append((rel, kind))
            if is_dir:
                walk(Path(entry.path), rel + "/", ignores)

    walk(root, "", [])
    return sorted(out, key=lambda e: os.fsencode(e[0]))


GLOBS = [
    (["*.py"], {}),
    (["**/*.md", "f00?.txt"], {}),
    (["src/**"], {}),
    (["src/*"], {"include_ignored": True}),
    (["**/deep/**", "/f01*"], {"include_hidden": True}),
    (["pkg*/"], {"include_ignored": True}),
    (["a", "a-b/*.c", "[ab]*"], {}),
    (["**"], {"exclude_globs": ["src/", "*.txt"]}),
    (["**"], {"include_hidden": True, "include_ignored": True}),
    (["link-*", "*.log"], {"include_ignored": True}),
]


@pytest.mark.parametrize(("patterns", "kw"), GLOBS, ids=[str(i) for i in range(len(GLOBS))])
def test_glob_agrees_with_a_reference_pathspec_walk(client: Client, copy: Path,
                                                    patterns: list[str],
                                                    kw: dict[str, object]) -> None:
    expected = reference_glob(copy, patterns, hidden=bool(kw.get("include_hidden")),
                              ignored=bool(kw.get("include_ignored")),
                              exclude=list(kw.get("exclude_globs", [])))  # type: ignore[call-overload]  # kw
    assert expected, "the case should find something"
    result = client.glob(str(copy), patterns, max_results=10_000, **kw)  # type: ignore[arg-type]  # kw
    kinds = {FileType.DIRECTORY: "dir", FileType.SYMLINK: "link", FileType.REGULAR: "file"}
    assert [(e.name, kinds[e.info.type]) for e in result.entries] == expected
    assert not result.truncated



