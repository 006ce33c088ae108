"""The web page (service/web/) in a real headless Chromium, against the running service.

Uses the `service_url` fixture (tests/conftest.py: a service indexed on the real corpus, extractive
mode, with PRESSQA_INDEX_TOKEN set). Needs Python `playwright` and a Chromium binary: Debian's
`chromium` package at /usr/bin/chromium (or set PRESSQA_CHROMIUM); Playwright's own browser download
is not used. `UPDATE_SCREENSHOT=1 pytest tests/e2e/test_page.py` also refreshes docs/screenshot.png.
"""

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright to test the page")
expect = sync_api.expect

CHROMIUM = os.environ.get("PRESSQA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 60_000  # the first question may warm up the embedder

# From eval/dev.jsonl (q002): gold file data/103.txt.
EUROGATE_QUESTION = (
    "At which ports is Deutsche Telekom building 5G campus networks for container terminal operator EUROGATE?"
)
EUROGATE_FILE = "103.txt"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]


# ---------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _new_page(browser, **context_options):
    context = browser.new_context(**context_options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.js_errors = []  # uncaught errors on the page fail the test (see `page` fixture)
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    return context, page


@pytest.fixture
def page(browser):
    context, page = _new_page(browser, viewport={"width": 1280, "height": 1000})
    yield page
    context.close()
    assert page.js_errors == []


def http_json(url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # say which endpoint failed and why
        raise AssertionError(f"{request.get_method()} {url} -> {error.code}: {error.read()[:500]!r}") from None


def squash(text):
    """Compare texts independent of how the browser lays out whitespace."""
    return re.sub(r"\s+", " ", text).strip()


def ask(page, question):
    """Type a question, press Enter, return the /ask/stream request; waits for the answer to end."""
    page.fill("#question", question)
    with page.expect_request(lambda r: r.url.endswith("/ask/stream") and r.method == "POST") as request:
        page.press("#question", "Enter")
    wait_until_answered(page)
    return request.value


def wait_until_answered(page):
    page.wait_for_function("() => ['done', 'failed', 'stopped'].includes(document.querySelector('#result').dataset.state)")


def card_files(page):
    return page.locator("#sources > li").evaluate_all("cards => cards.map(c => c.dataset.file)")


def record_rendering(page):
    """Log each distinct answer length and status text as the page renders them (for streaming checks)."""
    page.evaluate(
        """() => {
          window.__answerLengths = [];
          window.__statusTexts = [];
          const answer = document.querySelector('#answer');
          const status = document.querySelector('#status-text');
          new MutationObserver(() => {
            const n = answer.textContent.length, seen = window.__answerLengths;
            if (seen[seen.length - 1] !== n) seen.push(n);
          }).observe(answer, {childList: true, subtree: true, characterData: true});
          new MutationObserver(() => window.__statusTexts.push(status.textContent))
            .observe(status, {childList: true, subtree: true, characterData: true});
        }"""
    )


def save_screenshot(page, tmp_path, name):
    page.locator("#question").blur()  # a blurred input shows the question's start, not its end
    path = tmp_path / name
    page.screenshot(path=str(path))
    if os.environ.get("UPDATE_SCREENSHOT") == "1" and name == "desktop.png":
        page.screenshot(path=str(REPO / "docs" / "screenshot.png"))
    return path


# ---------------------------------------------------------------------------- against the real service


def test_streamed_answer_cites_the_gold_release(page, service_url, tmp_path):
    health = http_json(f"{service_url}/ready")
    page.goto(service_url)
    expected_badge = "LLM" if health["answer_mode"] == "llm" else "Extractive (no LLM key configured)"
    expect(page.locator("#mode-badge")).to_have_text(expected_badge)

    record_rendering(page)
    with page.expect_response(lambda r: r.url.endswith("/ask/stream")) as response_info:
        request = ask(page, EUROGATE_QUESTION)
    assert json.loads(request.post_data) == {"query": EUROGATE_QUESTION, "top_k": 5, "filters": None}
    expect(page.locator("#result")).to_have_attribute("data-state", "done")

    # Streamed: the page showed the answer growing, once per delta batch, and a progress state first.
    deltas = response_info.value.text().count("event: delta")
    lengths = [n for n in page.evaluate("window.__answerLengths") if n > 0]
    assert deltas >= 1 and len(page.locator("#answer").inner_text().strip()) > 0
    if deltas > 1:
        assert len(lengths) > 1, "the answer appeared at once, not token by token"
    assert any("Searching" in text for text in page.evaluate("window.__statusTexts"))
    expect(page.locator("#status")).to_be_hidden()

    # The gold release is among the source cards, with the question's terms highlighted.
    assert EUROGATE_FILE in card_files(page)
    gold_card = page.locator(f'#sources > li[data-file="{EUROGATE_FILE}"]').first
    expect(gold_card.locator(".source__file")).to_have_text(EUROGATE_FILE)
    assert gold_card.locator(".source__passage mark").count() > 0
    assert gold_card.locator(".source__title").inner_text().strip()

    save_screenshot(page, tmp_path, "desktop.png")

    # Latency measured on the client, server timings behind "Details".
    expect(page.locator("#latency")).to_have_text(re.compile(r"first token \d+\.\d\d\s+s · total \d+\.\d\d\s+s"))
    page.locator("#details summary").click()
    expect(page.locator("#timings")).to_contain_text("total (client)")
    expect(page.locator("#timings")).to_contain_text("(server)")

    # A citation link moves to (and focuses) its source card.
    citation = page.locator("#answer a.cite").first
    expect(citation).to_be_visible()
    target = citation.get_attribute("href").lstrip("#")
    page.evaluate("window.scrollTo(0, 0)")
    citation.click()
    page.wait_for_function("id => document.activeElement && document.activeElement.id === id", arg=target)
    page.wait_for_function(
        "id => { const r = document.getElementById(id).getBoundingClientRect();"
        " return r.top >= -1 && r.top < window.innerHeight; }",
        arg=target,
    )

    # "Show full release" fetches GET /releases/{file} and shows all of it as text.
    release = http_json(f"{service_url}/releases/{quote(EUROGATE_FILE)}")
    toggle = gold_card.get_by_role("button", name="Show full release")
    toggle.click()
    region = gold_card.locator(".source__full")
    expect(region).to_be_visible()
    expect(gold_card.locator(".source__toggle")).to_have_attribute("aria-expanded", "true")
    expect(region).to_contain_text("Bremerhaven")
    assert squash(region.inner_text()) == squash(release["content"])
    gold_card.get_by_role("button", name="Hide full release").click()
    expect(region).to_be_hidden()


def test_year_filter_is_sent_and_respected(page, service_url):
    page.goto(service_url)
    years = sorted(
        {r["year"] for r in http_json(f"{service_url}/releases")["releases"] if isinstance(r.get("year"), int)}
    )
    expected = [""] + [str(y) for y in range(years[0], years[-1] + 1)]  # "any", then min..max
    expect(page.locator("#year-from option")).to_have_count(len(expected))  # the page fills them from /releases
    options = page.locator("#year-from option").evaluate_all("os => os.map(o => o.value)")
    assert options == expected

    low, high = 2023, 2024
    page.select_option("#year-from", str(low))
    page.select_option("#year-to", str(high))
    request = ask(page, "Which 5G campus networks did Telekom build for industry customers?")

    assert json.loads(request.post_data)["filters"] == {
        "operator": "AND",
        "conditions": [
            {"field": "meta.year", "operator": ">=", "value": low},
            {"field": "meta.year", "operator": "<=", "value": high},
        ],
    }
    expect(page.locator("#filter-chip")).to_have_text(f"Years {low}–{high}")
    card_years = page.locator("#sources > li").evaluate_all("cards => cards.map(c => c.dataset.year)")
    assert card_years, "expected sources within the year range"
    assert all(low <= int(year) <= high for year in card_years), card_years

    # Back to "any": no filter is sent.
    page.click("#year-reset")
    request = ask(page, "Which 5G campus networks did Telekom build for industry customers?")
    assert json.loads(request.post_data)["filters"] is None


PROBE_FILE = "253.txt"  # not a gold file of the dev set; restored after the test
PROBE_MARKUP = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"


@pytest.fixture
def markup_release(service_url, corpus_dir):
    """Temporarily replace one release with a text full of markup; restore the original afterwards.

    Replacing (not adding) keeps the number of releases the other end-to-end tests expect.
    """
    token = os.environ["PRESSQA_INDEX_TOKEN"]
    auth = {"Authorization": f"Bearer {token}"}
    content = (
        f"Quorblax probe release {PROBE_MARKUP} is a test release about the Quorblax widget. "
        "The Quorblax widget is a fictional product used only to check that the page escapes markup.\n\n"
        f"A second paragraph mentions the Quorblax widget again and repeats the markup: {PROBE_MARKUP}"
    )
    original = (corpus_dir / PROBE_FILE).read_text()
    reply = http_json(f"{service_url}/index/run", {"texts": [{"name": PROBE_FILE, "content": content}]}, auth)
    assert reply["result"]["files"] == 1
    try:
        yield PROBE_FILE
    finally:
        http_json(f"{service_url}/index/run", {"texts": [{"name": PROBE_FILE, "content": original}]}, auth)


def test_markup_in_a_release_is_shown_as_text_never_run(page, service_url, markup_release):
    page.goto(service_url)
    ask(page, "What is the Quorblax widget?")
    card = page.locator(f'#sources > li[data-file="{markup_release}"]').first
    expect(card).to_be_visible()
    expect(card.locator(".source__passage")).to_contain_text("<script>window.__pwned=1</script>")
    card.get_by_role("button", name="Show full release").click()
    expect(card.locator(".source__full")).to_contain_text('<img src=x onerror="window.__pwned=2">')

    assert page.locator("#answer script, #answer img, #sources script, #sources img").count() == 0
    page.wait_for_timeout(300)  # give an (unwanted) onerror handler time to fire
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_phone_width_has_no_horizontal_scroll(browser, service_url, tmp_path):
    context, page = _new_page(browser, viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    try:
        page.goto(service_url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        ask(page, EUROGATE_QUESTION)
        page.locator("#sources .source__toggle").first.click()
        expect(page.locator("#sources .source__full").first).to_be_visible()
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1] == 375, widths
        save_screenshot(page, tmp_path, "mobile.png")
        assert page.js_errors == []
    finally:
        context.close()


def test_keyboard_only_use(page, service_url):
    page.goto(service_url)
    # Every form control has a label; example questions are real buttons.
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, select')].filter(e => !e.labels.length).map(e => e.id)"
    )
    assert unlabelled == []
    assert page.locator(".examples button[type=button]").count() >= 3

    page.keyboard.press("Tab")  # skip link first
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#question")).to_be_focused()

    example = page.locator(".examples button").first
    example.focus()
    with page.expect_request(lambda r: r.url.endswith("/ask/stream")) as request:
        page.keyboard.press("Enter")
    assert json.loads(request.value.post_data)["query"] == example.inner_text().strip()
    wait_until_answered(page)
    expect(page.locator("#answer")).to_have_attribute("aria-live", "polite")


# ---------------------------------------------------------------------------- page states (stubbed stream)
# The service cannot be made to fail on demand, so these replace only the /ask/stream reply; the page,
# its script and the other endpoints are the real service's.


def sse(*events):
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


DOC = {
    "id": "x",
    "content": "Telekom builds <b>three</b> campus networks.",
    "score": 1.0,
    "meta": {"file_path": "103.txt", "title": "<script>window.__pwned=1</script> Title", "dates": ["2023-05-16"], "year": 2023},
}
DONE = {"answer": "", "mode": "extractive", "warning": None, "timings_ms": {"retrieve": 12.5}}

STUBS = {
    "warning": (
        200,
        sse(
            ("sources", {"documents": [DOC], "mode": "llm"}),
            ("delta", {"text": "Three <img src=x onerror=window.__pwned=1> networks [1]."}),
            ("done", {**DONE, "answer": "Three <img src=x onerror=window.__pwned=1> networks [1].",
                      "warning": "The LLM timed out; this answer is extractive."}),
        ),
        "The LLM timed out; this answer is extractive.",
    ),
    "no_results": (
        200,
        sse(("sources", {"documents": [], "mode": "extractive"}),
            ("done", {**DONE, "answer": "The press releases do not say."})),
        "No relevant press release found",
    ),
    "not_cited": (
        200,
        sse(("sources", {"documents": [DOC], "mode": "extractive"}),
            ("done", {**DONE, "answer": "The press releases do not contain information that answers this question."})),
        "The answer cites none of the sources",
    ),
    "error_event": (
        200,
        sse(("sources", {"documents": [DOC], "mode": "llm"}), ("error", {"detail": "generator failed: 503"})),
        "generator failed: 503",
    ),
    "http_422": (
        422,
        json.dumps({"detail": [{"loc": ["body", "query"], "msg": "String should have at most 1000 characters"}]}),
        "The service answered 422: String should have at most 1000 characters",
    ),
    "stream_cut": (200, sse(("sources", {"documents": [DOC], "mode": "llm"}), ("delta", {"text": "Thr"})),
                   "ended before the answer was complete"),
    "unsupported_citation": (
        200,
        sse(("sources", {"documents": [DOC], "mode": "llm"}),
            ("delta", {"text": "Telekom builds three networks [1]. It won a prize [1]."}),
            ("done", {**DONE, "mode": "llm", "answer": "Telekom builds three networks [1]. It won a prize [1].",
                      "unsupported_citations": [{"sentence": "It won a prize [1].", "cited": [1]}]})),
        "Citation check: 1 sentence is not supported",
    ),
}


@pytest.mark.parametrize("case", list(STUBS))
def test_states_are_reported_honestly(page, service_url, case):
    status, body, message = STUBS[case]
    content_type = "text/event-stream" if status == 200 else "application/json"
    page.route("**/ask/stream", lambda route: route.fulfill(status=status, content_type=content_type, body=body))
    page.goto(service_url)
    ask(page, "How many campus networks?")

    expect(page.locator("#notice")).to_contain_text(message)
    expect(page.locator("#status")).to_be_hidden()
    if case == "warning":
        expect(page.locator("#answer")).to_have_text("Three <img src=x onerror=window.__pwned=1> networks [1].")
        expect(page.locator("#answer a.cite")).to_have_attribute("href", "#source-1")
        expect(page.locator("#source-1 .source__title")).to_have_text("<script>window.__pwned=1</script> Title")
        expect(page.locator("#source-1 .source__passage")).to_have_text("Telekom builds <b>three</b> campus networks.")
        expect(page.locator("#timings")).to_contain_text("retrieve (server)")
    if case == "unsupported_citation":  # the citation check's finding is visible on the sentence itself
        expect(page.locator("#answer mark.unsupported")).to_have_count(1)
        expect(page.locator("#answer mark.unsupported")).to_contain_text("It won a prize")
        expect(page.locator("#answer mark.unsupported")).to_contain_text("unsupported")
        expect(page.locator("#answer a.cite")).to_have_count(2)
    if case in ("error_event", "stream_cut"):
        expect(page.locator("#sources > li")).to_have_count(1)  # sources stay visible after a failure
    assert page.evaluate("typeof window.__pwned") == "undefined"


# Replaces fetch's body for /ask/stream with the same bytes, delivered a few at a time: network-like
# chunking that splits events, lines, citations and UTF-8 characters at arbitrary points.
THROTTLE_STREAM = """
(() => {
  const realFetch = window.fetch;
  window.fetch = async (...args) => {
    const response = await realFetch(...args);
    if (!String(args[0]).endsWith("ask/stream") || !response.ok) return response;
    const bytes = new Uint8Array(await response.arrayBuffer());
    let at = 0;
    const body = new ReadableStream({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(at, at + 9));
        at += 9;
      },
    });
    return new Response(body, {status: response.status, headers: response.headers});
  };
})();
"""


def test_answer_renders_token_by_token(page, service_url):
    pieces = ["The ports ", "are Hamburg", ", Bremerhaven ", "and Wilhelms", "haven ", "[", "1]", " (EUR 3.7 million €) [2]."]
    docs = [DOC, {**DOC, "id": "y", "meta": {**DOC["meta"], "file_path": "104.txt"}}]
    body = sse(("sources", {"documents": docs, "mode": "llm"}), *[("delta", {"text": p}) for p in pieces],
               ("done", {**DONE, "answer": "".join(pieces), "mode": "llm"}))
    page.add_init_script(THROTTLE_STREAM)
    page.route("**/ask/stream", lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body))
    page.goto(service_url)
    record_rendering(page)
    ask(page, "Which ports?")

    lengths = [n for n in page.evaluate("window.__answerLengths") if n > 0]
    assert len(lengths) >= 5 and lengths == sorted(lengths), lengths  # grew step by step
    expect(page.locator("#answer")).to_have_text("".join(pieces))
    expect(page.locator("#answer a.cite")).to_have_count(2)  # "[" + "1]" across deltas still links
    statuses = page.evaluate("window.__statusTexts")
    assert any("Searching" in t for t in statuses) and any("Writing" in t for t in statuses), statuses


def test_read_token_is_asked_for_and_sent(page, service_url):
    """With PRESSQA_READ_TOKEN set on the server, reads answer 401 until the page sends the token."""
    ok = sse(("sources", {"documents": [DOC], "mode": "extractive"}), ("delta", {"text": "Yes [1]."}),
             ("done", {**DONE, "answer": "Yes [1]."}))

    def handle(route):
        if route.request.headers.get("authorization") == "Bearer s3cret":
            route.fulfill(status=200, content_type="text/event-stream", body=ok)
        else:
            route.fulfill(status=401, content_type="application/json",
                          body=json.dumps({"detail": "This service needs 'Authorization: Bearer <read token>'."}))

    page.route("**/ask/stream", handle)
    page.goto(service_url)
    ask(page, "Anything?")
    expect(page.locator("#notice")).to_contain_text("401")
    expect(page.locator("#token-form")).to_be_visible()
    expect(page.locator("#token")).to_be_focused()

    page.fill("#token", "s3cret")
    with page.expect_request(lambda r: r.url.endswith("/ask/stream")) as request:
        page.press("#token", "Enter")
    assert request.value.headers.get("authorization") == "Bearer s3cret"
    wait_until_answered(page)
    expect(page.locator("#answer")).to_have_text("Yes [1].")
    expect(page.locator("#token-form")).to_be_hidden()
    expect(page.locator("#notice")).to_be_hidden()
