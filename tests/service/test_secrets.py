"""Secrets (issue #5): no key is committed, every setting the code reads is documented in .env.example.

That an LLM error echoing the API key never reaches a reply or the log unredacted is checked against a real
service in tests/service/test_llm_faults.py (test_an_llm_error_that_repeats_the_key_is_redacted).
"""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve().relative_to(REPO).as_posix()

KEY_PATTERNS = {
    "OpenAI key": r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}",
    "AWS access key": r"\bAKIA[0-9A-Z]{16}\b",
    "GitHub token": r"\bgh[pousr]_[A-Za-z0-9]{30,}",
    "Hugging Face token": r"\bhf_[A-Za-z0-9]{30,}",
    "Slack token": r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    "private key": r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----",
    "Elasticsearch API key header": r"ApiKey [A-Za-z0-9+/=]{40,}",
}

# Variables the code reads that are not settings: the service sets them itself.
NOT_SETTINGS = {
    "HF_HUB_OFFLINE": "forced to 1: the model comes from the installed package, never from the hub",
    "TRANSFORMERS_OFFLINE": "forced to 1, as HF_HUB_OFFLINE",
    "HAYHOOKS_STARTUP_DEPLOY_STRATEGY": "forced to sequential: the parallel deploy races (NOTES.md)",
    "PRESSQA_RUN_DIR": "set by pressqa-serve for its workers (service/supervisor.py)",
    "PRESSQA_SUPERVISOR_PID": "set by pressqa-serve for its workers (service/supervisor.py)",
}
# Documented variables read by a library rather than by our code.
READ_BY_LIBRARIES = {
    "OPENAI_BASE_URL": "the openai client",
    "HAYHOOKS_PORT": "Hayhooks' settings",
}


def repository_files() -> list[Path]:
    """Files committed or about to be (tracked, and untracked but not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode().split("\0")
    return [REPO / name for name in listed if name and (REPO / name).is_file()]


@pytest.mark.parametrize(
    ("kind", "sample"),
    [("OpenAI key", "sk-" + "proj-" + "a1B2" * 8), ("AWS access key", "AKIA" + "ABCDEFGHIJ234567"),
     ("GitHub token", "ghp_" + "x1" * 18), ("private key", "-----BEGIN " + "RSA PRIVATE KEY-----")],
)
def test_key_patterns_recognise_keys(kind, sample):
    assert re.search(KEY_PATTERNS[kind], f"key = '{sample}'")


def test_no_key_looking_string_is_committed():
    found = []
    for path in repository_files():
        relative = path.relative_to(REPO).as_posix()
        if relative == THIS_FILE:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:  # binary (images)
            continue
        text = data.decode("utf-8", errors="replace")
        for kind, pattern in KEY_PATTERNS.items():
            found += [f"{relative}: {kind}: {m.group(0)[:12]}…" for m in re.finditer(pattern, text)]
    assert not found, "\n".join(found)


def test_no_env_file_is_committed():
    committed = {p.relative_to(REPO).as_posix() for p in repository_files()}
    assert not {name for name in committed if re.fullmatch(r"(.*/)?\.env(\..+)?", name) and not name.endswith(".example")}


READ_PATTERNS = [
    r"""os\.environ(?:\.get|\.pop)?\(\s*["']([A-Z][A-Z0-9_]*)["']""",
    r"""os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]""",
    r"""os\.getenv\(\s*["']([A-Z][A-Z0-9_]*)["']""",
    r"""from_env_var\(\s*["']([A-Z][A-Z0-9_]*)["']""",
    r"""^\s*[A-Z_]*ENV[A-Z_]*\s*=\s*["']([A-Z][A-Z0-9_]*)["']""",  # INDEX_TOKEN_ENV = "PRESSQA_INDEX_TOKEN"
]
SET_PATTERN = r"""os\.environ\.setdefault\(\s*["']([A-Z][A-Z0-9_]*)["']"""
YAML_PATTERN = r"env_vars:\s*\[([^\]]*)\]"


def variables_in_code() -> tuple[set[str], set[str]]:
    """Variables read by service/, kit/, components/, pipelines/ and stores/, and those they only set defaults for."""
    read, defaulted = set(), set()
    for folder in ("service", "kit", "components", "pipelines", "stores"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix == ".py":
                text = path.read_text(encoding="utf-8")
                for pattern in READ_PATTERNS:
                    read |= set(re.findall(pattern, text, re.MULTILINE))
                defaulted |= set(re.findall(SET_PATTERN, text))
            elif path.suffix in (".yml", ".yaml"):
                for names in re.findall(YAML_PATTERN, path.read_text(encoding="utf-8")):
                    read |= {n.strip().strip("'\"") for n in names.split(",") if n.strip()}
    return read, defaulted - read


def documented_variables() -> set[str]:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def test_env_example_documents_every_variable_the_code_reads():
    read, defaulted = variables_in_code()
    assert {"OPENAI_API_KEY", "PRESSQA_INDEX_TOKEN", "PRESSQA_DATA_DIR", "ELASTICSEARCH_URL"} <= read  # the scan works
    undocumented = (read | defaulted) - documented_variables() - NOT_SETTINGS.keys()
    assert not undocumented, f"add to .env.example: {sorted(undocumented)}"


def test_env_example_documents_only_variables_something_reads():
    read, defaulted = variables_in_code()
    unread = documented_variables() - read - defaulted - READ_BY_LIBRARIES.keys()
    assert not unread, f"documented in .env.example but read by nothing: {sorted(unread)}"
