"""The pure parts of the /compat pages: badges, "try it" links, who may request what and how often, joining of
background tasks, search texts, and escaping of whatever a verdict carries."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from farm.compat import tryit
from farm.compat.admission import RequestPolicy, TokenBucket
from farm.compat.badge import badge_for, render_svg
from farm.compat.documents import Site, _runtime, table_url
from farm.compat.listing import TableQuery, name_fragment
from farm.compat.pages import render_project
from farm.compat.tasks import CompatSession, TaskRunner, TaskState
from farm.compat.verdict import BuildRef, Code, Evidence, FileRef, Status, Verdict
from farm.errors import AuthenticationError, BadRequest, PermissionDenied, RateLimited
from farm.store.models import TokenScope

HOSTILE = "<script>alert(1)</script>\"'&"


@pytest.mark.parametrize(
    ("scope", "needed", "allowed"),
    [
        (TokenScope.BUILD, TokenScope.BUILD, True),
        (TokenScope.BUILD, TokenScope.READ, True),
        (TokenScope.BUILD, TokenScope.UPLOAD, False),
        (TokenScope.UPLOAD, TokenScope.BUILD, False),
        (TokenScope.READ, TokenScope.BUILD, False),
        (TokenScope.ADMIN, TokenScope.BUILD, True),
        (TokenScope.UPLOAD, TokenScope.UPLOAD, True),
        (TokenScope.BUILD, TokenScope.ADMIN, False),
    ],
)
def test_build_scope_sits_beside_upload_under_admin(
    scope: TokenScope, needed: TokenScope, allowed: bool
) -> None:
    assert scope.allows(needed) is allowed


def test_badge_escapes_and_carries_its_words() -> None:
    svg = render_svg(badge_for(HOSTILE, "314.0.7", Status.WORKS))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert (
        'aria-label="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp; on Pyodide 314.0.7: works"' in svg
    )
    assert "<title>" in svg and ">works</text>" in svg
    unchecked = badge_for("attrs", "314.0.7", None)
    assert (unchecked.message, unchecked.text) == ("not checked", "attrs on Pyodide 314.0.7: not checked\n")


def test_try_it_link_is_the_editors_share_format_and_imports_the_modules() -> None:
    link = tryit.editor_link("cext==1.0", "314.0.7", "cext", ["cext", "cext._speedups"])
    # base64url without padding, as share.js makes them
    assert link.startswith("/editor#v1.") and "=" not in link
    state = tryit.decode(link.split("#", 1)[1])
    assert state["requirements"] == "cext==1.0" and state["runtime"] == "314.0.7"
    assert state["main"] == "main.py" and state["lockDigest"] is None
    files = state["files"]
    assert isinstance(files, dict)
    source = files["main.py"]
    compile(source, "main.py", "exec")
    assert "['cext', 'cext._speedups']" in source


def test_try_it_imports_only_module_names() -> None:
    assert tryit.import_names("my-project", []) == ["my_project"]
    assert tryit.import_names("x", ["os; import evil", "good", "pkg.sub", ""]) == ["good", "pkg.sub"]


def test_token_bucket_allows_a_burst_then_says_how_long_to_wait() -> None:
    now = [100.0]
    bucket = TokenBucket(rate_per_minute=6, burst=2, clock=lambda: now[0])
    assert bucket.take("a") == 0 and bucket.take("a") == 0
    wait = bucket.take("a")
    assert wait == pytest.approx(10.0)  # 6 a minute: one every 10 s
    assert bucket.take("b") == 0  # per client
    now[0] += 10.0
    assert bucket.take("a") == 0


def _verify(tokens: dict[str, TokenScope]) -> Any:
    def verify(token: str | None, needed: TokenScope) -> object:
        if token is None or token not in tokens:
            raise AuthenticationError("no token")
        if not tokens[token].allows(needed):
            raise PermissionDenied("scope")
        return tokens[token]

    return verify


def test_request_policy_modes() -> None:
    tokens = {"b": TokenScope.BUILD, "u": TokenScope.UPLOAD, "a": TokenScope.ADMIN}
    off = RequestPolicy("off", _verify(tokens), 6, 1)
    with pytest.raises(PermissionDenied, match="compat_requests = off"):
        off.admit("a", "1.2.3.4", "check x")
    with pytest.raises(PermissionDenied, match="compat_requests = off"):
        off.admit_admin("a", "mirror x")
    token = RequestPolicy("token", _verify(tokens), 6, 1)
    with pytest.raises(AuthenticationError):
        token.admit(None, "1.2.3.4", "check x")
    with pytest.raises(PermissionDenied):
        token.admit("u", "1.2.3.4", "check x")
    token.admit("b", "1.2.3.4", "check x")
    token.admit("a", "1.2.3.4", "check x")
    with pytest.raises(PermissionDenied):
        token.admit_admin("b", "mirror x")
    anyone = RequestPolicy("anyone", _verify(tokens), 6, 1)
    anyone.admit(None, "1.2.3.4", "check x")
    with pytest.raises(RateLimited, match="try again in") as limited:
        anyone.admit(None, "1.2.3.4", "check x")
    assert limited.value.retry_after is not None and limited.value.retry_after > 5
    anyone.admit("b", "1.2.3.4", "check x")  # a build token is not limited
    with pytest.raises(AuthenticationError):
        anyone.admit("bogus", "1.2.3.4", "check x")  # a token that is sent must be good


def test_search_text_becomes_part_of_a_normalised_name() -> None:
    assert name_fragment("  Zope.Interface_x ") == "zope-interface-x"
    assert name_fragment("50%_off<script>") == "50-offscript"  # no LIKE wildcard, no markup
    with pytest.raises(BadRequest):
        TableQuery.parse(status="great")
    with pytest.raises(BadRequest):
        TableQuery.parse(sort="id; drop table")
    with pytest.raises(BadRequest):
        TableQuery.parse(runtime="0.1", runtimes=["314.0.7"])
    query = TableQuery.parse(status="works", sort="checked", order="desc", page=2)
    assert table_url(query) == "/compat?status=works&sort=checked&order=desc&page=2"


class FakeOracle:
    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate
        self.calls = 0

    def check(self, requirements: list[Any], runtimes: list[str], **_: Any) -> list[Verdict]:
        self.calls += 1
        assert self.gate.wait(10)
        [requirement] = requirements
        name = str(requirement)
        if name == "explodes":
            raise RuntimeError("boom")
        return [Verdict(name, name, "1.0", runtimes[0], Status.WORKS, Code.IMPORTED, "fine")]


def test_a_second_request_joins_the_running_task_and_errors_end_in_the_task() -> None:
    gate = threading.Event()
    oracle = FakeOracle(gate)

    @contextlib.contextmanager
    def sessions() -> Iterator[CompatSession]:
        yield CompatSession(oracle, None, None)  # type: ignore[arg-type]

    runner = TaskRunner(sessions, builds=None, workers=2, poll=0.01)  # type: ignore[arg-type]
    try:
        first, joined_first = runner.check("attrs", "314.0.7")
        second, joined_second = runner.check("attrs", "314.0.7")
        other, _ = runner.check("attrs", "0.29.5")  # another runtime: another task
        assert (joined_first, joined_second) == (False, True) and second is first and other is not first
        gate.set()
        for task in (first, other):
            _wait(runner, task.id)
        done = runner.get(first.id)
        assert done is not None and done["state"] == "done" and done["verdicts"][0]["status"] == "works"
        assert oracle.calls == 2  # one per runtime, the joined request ran nothing
        again, joined = runner.check("attrs", "314.0.7")  # finished: a new request checks again
        assert not joined and again.id != first.id
        failed, _ = runner.check("explodes", "314.0.7")
        report = _wait(runner, failed.id)
        assert report["state"] == TaskState.FAILED and "internal error (RuntimeError)" in report["error"]
        build, _ = runner.build("attrs", "314.0.7")
        report = _wait(runner, build.id)
        assert report["state"] == "failed" and "no upstream index to build from" in report["error"]
    finally:
        runner.close()


def _wait(runner: TaskRunner, task_id: str) -> dict[str, Any]:
    for _ in range(1000):
        found = runner.get(task_id)
        assert found is not None
        if found["state"] in ("done", "failed"):
            return found
        threading.Event().wait(0.01)
    raise AssertionError("the task did not finish")


def test_project_page_escapes_everything_a_verdict_carries() -> None:
    evidence = Evidence(
        wheel=FileRef(f"x-1.0-py3-none-any.whl{HOSTILE}", "ab" * 32, f"javascript:{HOSTILE}", "mirrored"),
        imports={"x": f"Traceback\nImportError: {HOSTILE}"},
        build=BuildRef(7, "failed", "build", "/builds/7", "recipes/x/meta.yaml", HOSTILE, (HOSTILE,)),
        detail=HOSTILE,
        log=(HOSTILE,),
    )
    verdict = Verdict(
        "x", "x", f"1.0{HOSTILE}", "314.0.7", Status.FAILS, Code.BUILD_FAILED, HOSTILE, evidence
    )

    class Listing:
        def current_of(self, projects: list[str], runtime: str) -> dict[str, Any]:
            return {}

    site = Site(["314.0.7"], "token")
    entry = _runtime("x", "314.0.7", verdict, Listing(), site)  # type: ignore[arg-type]
    history = [{**verdict.to_json(), "check_id": 1}]
    html = render_project(
        {"project": "x", "known": True, "runtimes": [entry], "history": history, "requests": "token"}
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "href='javascript:" not in html and "<code>javascript:&lt;script" in html  # shown, not linked
    assert set(entry["actions"]) == {"check", "build"}  # a failed build may be built again
