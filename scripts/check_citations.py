"""Citations of files the repository does not contain: every such reference in code, tests and docs.

    python scripts/check_citations.py        # one line per problem (file:line: what), exit 1 if any

The repository must be self-contained: a reader who follows a citation must find the cited text in
it. Checked in every tracked (or untracked, not ignored) text file:

* a section sign ``§`` is a citation of a numbered section; the line must also name a file of the
  repository (``docs/dpm-solver.md``) that resolves, else the section belongs to a document the
  reader does not have ("notes §5.4");
* phrases that name documents outside the repository ("notes §", "reference notes", "the notes'",
  "of the notes", "developers' guide", "DEVELOPERS");
* every ``something.md`` (with an optional ``#anchor``) must resolve relative to the citing file or
  to the repository root, and its anchor must be a heading of that file (GitHub's heading slugs);
  names of files rfbench writes (``results.md``, ``report.md``, ``comparison.md``) are outputs, not
  citations;
* Markdown links and images ``[text](target)`` in ``.md`` files (outside code blocks) must resolve
  the same way; web links (``http(s)://``, ``mailto:``) are not checked.

``EXEMPT`` lists files allowed to quote old citations (the architecture plan maps each one to its
new target); drop a file from it once the citations it quotes are gone.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".sh", ".yml", ".yaml"}
TEXT_NAMES = {"run"}  # .ci/run
# files rfbench writes into its output folders: their names in the docs are not citations
GENERATED = {"results.md", "report.md", "comparison.md"}
# the plan maps every old citation to its new target; this checker and its test quote the patterns
EXEMPT = {"docs/architecture-plan.md", "scripts/check_citations.py", "tests/test_architecture.py"}
PHRASES = [
    (re.compile(r"notes\s*§"), "cites a section of notes the repository does not contain"),
    (re.compile(r"reference notes", re.I), "cites reference notes the repository does not contain"),
    (re.compile(r"\bthe notes'"), "cites notes the repository does not contain"),
    (re.compile(r"\bof the notes\b"), "cites notes the repository does not contain"),
    (re.compile(r"developers'? guide", re.I), "cites a developers' guide the repository does not contain"),
    (re.compile(r"\bDEVELOPERS\b"), "cites a developers' guide the repository does not contain"),
]
URL = re.compile(r"(?:https?|ftp)://\S+|mailto:\S+")
MD_REF = re.compile(r"(?<![\w./\-])([\w.\-]+(?:/[\w.\-]+)*\.md)(?![\w])(#[\w\-]+)?")
MD_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def repo_files(root: Path = ROOT) -> list[Path]:
    """Tracked and untracked-but-not-ignored files (git), else every file outside dot-folders."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, text=True, check=True, timeout=30).stdout
        files = [root / line for line in out.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        files = [p for p in root.rglob("*") if p.is_file()
                 and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(root).parts[:-1])]
    return sorted(p for p in files if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES))


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: inline markup removed, lower case, punctuation
    dropped (letters, digits, '-', '_' and spaces kept), spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in "-_ ")
    return text.replace(" ", "-")


def anchors(md_file: Path) -> set[str]:
    """Anchors of a Markdown file's headings (``-1``, ``-2`` ... for repeated headings)."""
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in md_file.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m and not in_code:
            s = slug(m.group(2))
            n = seen.get(s, 0)
            out.add(s if n == 0 else f"{s}-{n}")
            seen[s] = n + 1
    return out


def _resolve(target: str, citing: Path, root: Path) -> Path | None:
    for base in (citing.parent, root):
        cand = (base / target).resolve()
        if cand.exists():
            return cand
    return None


def check_reference(target: str, anchor: str | None, citing: Path, root: Path) -> str | None:
    """None if ``target`` (and ``#anchor``) resolve from ``citing``; else what is wrong."""
    path = _resolve(target, citing, root)
    if path is None:
        return f"cites {target}, which the repository does not contain"
    if anchor and path.suffix == ".md" and path.is_file() and anchor not in anchors(path):
        return f"cites {target}#{anchor}, but {target} has no heading with that anchor"
    return None


def check_file(path: Path, root: Path = ROOT) -> list[Problem]:
    rel = str(path.relative_to(root))
    if rel in EXEMPT:
        return []
    problems: list[Problem] = []
    in_code = False
    for no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if path.suffix == ".md":
            if line.lstrip().startswith("```"):
                in_code = not in_code
                continue
            if in_code:  # code blocks show commands and output, not citations
                continue
        plain = URL.sub(" ", line)
        for pattern, why in PHRASES:
            if pattern.search(plain):
                problems.append(Problem(rel, no, f"{why}: {line.strip()[:120]}"))
        refs = [(m.group(1), (m.group(2) or "")[1:] or None) for m in MD_REF.finditer(plain)]
        refs = [(t, a) for t, a in refs if Path(t).name not in GENERATED and Path(t).name != ".md"]
        for target, anchor in refs:
            why = check_reference(target, anchor, path, root)
            if why:
                problems.append(Problem(rel, no, why))
        if "§" in plain and not any(check_reference(t, a, path, root) is None for t, a in refs):
            problems.append(Problem(rel, no, f"section sign without a file of this repository: {line.strip()[:120]}"))
        if path.suffix == ".md":
            for m in MD_LINK.finditer(re.sub(r"`[^`]*`", "", line)):
                target = m.group(1)
                if URL.match(target) or target.startswith("mailto:"):
                    continue
                if target.startswith("#"):
                    if target[1:] not in anchors(path):
                        problems.append(Problem(rel, no, f"links to #{target[1:]}, which is not a heading here"))
                    continue
                file, _, anchor = target.partition("#")
                why = check_reference(file, anchor or None, path, root)
                if why:
                    problems.append(Problem(rel, no, f"link: {why}"))
    unique: dict[tuple, Problem] = {}
    for p in problems:  # a link whose target is also named in the text is one problem, not two
        key = (p.file, p.line, p.text.removeprefix("link: "))
        unique.setdefault(key, p)
    return list(unique.values())


def find_problems(root: Path = ROOT, files: list[Path] | None = None) -> list[Problem]:
    out: list[Problem] = []
    for path in files if files is not None else repo_files(root):
        out += check_file(path, root)
    return out


def main() -> int:
    problems = find_problems()
    for p in problems:
        print(p)
    print(f"{len(problems)} citation problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
