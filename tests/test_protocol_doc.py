"""docs/protocol.md and shared/protocol.py describe the same protocol: types, codes, states, limits."""
import dataclasses
import re

from shared.payload import MAX_PARTS
from shared.protocol import ALLOWED_DTYPES, DEFAULT_LIMITS, PROTOCOL_VERSION, ErrorCode, JobState, MsgType
from tests.platform_helpers.server_proc import ROOT

DOC = (ROOT / "docs" / "protocol.md").read_text()


def section(title: str) -> str:
    """The text under the level-2 heading that starts with ``title``, up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", DOC, re.M | re.S)
    assert match, f"docs/protocol.md has no '## {title}' section"
    return match.group(1)


def first_column(text: str) -> list[str]:
    """The backticked names in the first column of the Markdown table rows in ``text``."""
    return re.findall(r"^\| `([a-z_]+)` \|", text, re.M)


def constants(cls) -> set[str]:
    return {v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)}


def test_message_types_match_the_code():
    listed = first_column(section("Message types"))
    assert len(listed) == len(set(listed)), "a message type is listed twice"
    assert set(listed) == constants(MsgType)
    for request in MsgType.REQUESTS:  # each request has its own subsection
        assert re.search(rf"^### {request}$", DOC, re.M), f"no '### {request}' section"


def test_error_codes_match_the_code():
    listed = first_column(section("Error codes"))
    assert len(listed) == len(set(listed))
    assert set(listed) == ErrorCode.ALL == constants(ErrorCode)


def test_job_states_and_version_match_the_code():
    lifecycle = re.search(r"^(queued -> .*)$", section("Events and the job lifecycle"), re.M).group(1)
    assert set(re.findall(r"[a-z]+", lifecycle)) == constants(JobState)
    assert f'"kiln": {PROTOCOL_VERSION}' in DOC and f"the integer `{PROTOCOL_VERSION}`" in DOC


def test_every_limit_is_listed_with_its_number():
    rows = {name: line for line in section("Limits").splitlines()
            if (name := next(iter(first_column(line)), None))}
    for field in dataclasses.fields(DEFAULT_LIMITS):
        assert field.name in rows, f"limit {field.name} missing from docs/protocol.md"
        numbers = [int(n) for n in re.findall(r"\b\d+\b", rows[field.name])]
        assert getattr(DEFAULT_LIMITS, field.name) in numbers, rows[field.name]
    limits = section("Limits")
    assert all(f"`{dtype}`" in limits for dtype in ALLOWED_DTYPES)
    assert f"at most {MAX_PARTS} part names" in limits


def test_the_doc_points_at_files_that_exist():
    for path in set(re.findall(r"`((?:shared|backend|examples|tests)/[\w/]+\.py)`", DOC)):
        assert (ROOT / path).is_file(), path
