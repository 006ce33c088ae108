// Press Release Q&A page: asks POST /ask/stream, streams the answer, shows cited sources.
// Vanilla JS, no dependencies. Everything from the server (answer, titles, release text) is put
// into the page with textContent / text nodes, never as HTML, so a release containing markup
// (even <script>) is displayed, not executed.
"use strict";

(() => {
  // Relative URLs: the page works at "/" and behind a path prefix alike.
  const API = {
    ready: "ready", // readiness: the answer mode (behind the read token, when one is set)
    releases: "releases",
    release: (filePath) => "releases/" + encodeURIComponent(filePath),
    askStream: "ask/stream",
  };
  const TOP_K = 5;
  const TOKEN_KEY = "pressqa.readToken"; // per tab (sessionStorage), never in the URL
  // how an answer that says the releases hold no answer begins (components/extractive_answerer.py)
  const NOT_FOUND_PREFIX = "The press releases do not contain information";
  const MODE_LABELS = {
    llm: "LLM",
    extractive: "Extractive (no LLM key configured)",
  };
  // Words not worth highlighting: English function words, question words and the corpus' own
  // ubiquitous names (every release says "Deutsche Telekom").
  const STOPWORDS = new Set((
    "a an and are as at be been being but by can could did do does for from had has have how i if in " +
    "into is it its it's of on or our over than that the their them then there these they this those " +
    "to under up was we were what when where which while who whom whose why will with would you your " +
    "about after again all also any before between both each get gets got more most much new not now " +
    "only other same should so some such since until very via done make made many per " +
    "deutsche telekom telekom's company"
  ).split(" "));

  const $ = (id) => document.getElementById(id);
  const ui = {
    form: $("ask-form"), question: $("question"),
    stopButton: $("stop-button"), yearFrom: $("year-from"), yearTo: $("year-to"),
    yearReset: $("year-reset"), modeBadge: $("mode-badge"), status: $("status"),
    statusText: $("status-text"), notice: $("notice"), result: $("result"),
    answer: $("answer"), filterChip: $("filter-chip"), latency: $("latency"),
    details: $("details"), timings: $("timings"), sources: $("sources"),
    sourceTemplate: $("source-template"), tokenForm: $("token-form"), token: $("token"),
  };

  /** The request in flight (or the last one): see newRun(). */
  let run = null;

  // ---------------------------------------------------------------- start-up

  function init() {
    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      ask(ui.question.value);
    });
    ui.stopButton.addEventListener("click", () => stop("Stopped."));
    for (const chip of document.querySelectorAll("[data-question]")) {
      chip.addEventListener("click", () => {
        ui.question.value = chip.textContent.trim();
        ask(ui.question.value);
      });
    }
    ui.yearFrom.addEventListener("change", () => keepYearsOrdered(ui.yearFrom));
    ui.yearTo.addEventListener("change", () => keepYearsOrdered(ui.yearTo));
    ui.tokenForm.addEventListener("submit", (event) => {
      event.preventDefault();
      useToken(ui.token.value.trim());
    });
    ui.yearReset.addEventListener("click", () => {
      ui.yearFrom.value = "";
      ui.yearTo.value = "";
      keepYearsOrdered(null);
    });
    loadMode();
    loadYears().finally(askFromUrl);
  }

  async function loadMode() {
    try {
      const ready = await getJson(API.ready);
      setModeBadge(ready.answer_mode);
    } catch (err) {
      if (err instanceof HttpError && err.status === 401) return askForToken(false); // loaded again with the token
      ui.modeBadge.textContent = "Service unreachable";
      ui.modeBadge.className = "badge badge--error";
    }
  }

  function setModeBadge(mode) {
    ui.modeBadge.textContent = MODE_LABELS[mode] || String(mode);
    ui.modeBadge.className = "badge badge--" + (mode === "llm" ? "llm" : "extractive");
    ui.modeBadge.title = mode === "llm"
      ? "Answers are written by a language model from the retrieved passages."
      : "No language model is configured: answers are sentences quoted from the retrieved passages.";
  }

  /** Fill the year selects with min..max of the years the releases mention. */
  async function loadYears() {
    if (ui.yearFrom.options.length > 1) return; // already filled
    let years = [];
    try {
      const data = await getJson(API.releases);
      years = data.releases.map((r) => r.year).filter(Number.isInteger);
    } catch (err) {
      // The filter is optional: without the list the page still answers, just unfiltered.
      if (err instanceof HttpError && err.status === 401) askForToken(false);
    }
    ui.yearFrom.disabled = ui.yearTo.disabled = !years.length;
    if (!years.length) return;
    const min = Math.min(...years);
    const max = Math.max(...years);
    for (let year = min; year <= max; year++) {
      ui.yearFrom.append(new Option(String(year), String(year)));
      ui.yearTo.append(new Option(String(year), String(year)));
    }
  }

  /** A range "from 2024 to 2022" makes no sense: move the other end along. */
  function keepYearsOrdered(changed) {
    const from = ui.yearFrom.value;
    const to = ui.yearTo.value;
    if (from && to && Number(from) > Number(to)) {
      if (changed === ui.yearFrom) ui.yearTo.value = from;
      else ui.yearFrom.value = to;
    }
    ui.yearReset.hidden = !(ui.yearFrom.value || ui.yearTo.value);
  }

  /** Links like ?q=…&from=2022&to=2024 ask straight away (shareable questions). */
  function askFromUrl() {
    const params = new URLSearchParams(location.search);
    setSelect(ui.yearFrom, params.get("from"));
    setSelect(ui.yearTo, params.get("to"));
    keepYearsOrdered(null);
    const q = params.get("q");
    if (q) {
      ui.question.value = q;
      ask(q);
    }
  }

  function setSelect(select, value) {
    if (value && [...select.options].some((o) => o.value === value)) select.value = value;
  }

  // ---------------------------------------------------------------- asking

  function yearRange() {
    const from = ui.yearFrom.value ? Number(ui.yearFrom.value) : null;
    const to = ui.yearTo.value ? Number(ui.yearTo.value) : null;
    return { from, to };
  }

  /** The Haystack filter of docs/api.md, or null for "any year". */
  function buildFilter({ from, to }) {
    const conditions = [];
    if (from !== null) conditions.push({ field: "meta.year", operator: ">=", value: from });
    if (to !== null) conditions.push({ field: "meta.year", operator: "<=", value: to });
    return conditions.length ? { operator: "AND", conditions } : null;
  }

  function describeRange({ from, to }) {
    if (from !== null && to !== null) return from === to ? `${from}` : `${from}–${to}`;
    if (from !== null) return `${from} or later`;
    if (to !== null) return `${to} or earlier`;
    return "";
  }

  function newRun(question, range) {
    return {
      question,
      range,
      controller: new AbortController(),
      terms: termPattern(question),
      docs: [],
      answer: "",
      t0: performance.now(),
      tSources: null,
      tFirstToken: null,
      tDone: null,
      renderPending: false,
      finished: false,
    };
  }

  async function ask(rawQuestion) {
    const question = rawQuestion.trim();
    if (!question) {
      clearNotices();
      showNotice("info", "Type a question first, for example one of the suggestions below the box.");
      ui.question.focus();
      return;
    }
    if (run && !run.finished) run.controller.abort(); // a new question replaces the old one
    const range = yearRange();
    run = newRun(question, range);
    rememberInUrl(question, range);
    resetResult(range);
    setState("searching", "Searching the press releases…");

    const thisRun = run;
    try {
      const response = await fetch(API.askStream, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...authHeaders() },
        body: JSON.stringify({ query: question, top_k: TOP_K, filters: buildFilter(range) }),
        signal: thisRun.controller.signal,
      });
      if (!response.ok) throw new HttpError(response.status, await readDetail(response));
      for await (const event of readServerSentEvents(response)) {
        if (thisRun !== run) return; // superseded by a newer question
        handleEvent(thisRun, event);
        if (thisRun.finished) break;
      }
      if (!thisRun.finished) fail(thisRun, "The answer stream ended before the answer was complete.");
    } catch (err) {
      if (err.name === "AbortError" || thisRun !== run) return;
      if (err instanceof HttpError && err.status === 401) askForToken(true);
      const message = err instanceof HttpError
        ? `The service answered ${err.status}: ${err.detail}`
        : "Could not reach the service. Check your connection and try again.";
      fail(thisRun, message);
    }
  }

  function stop(message) {
    if (!run || run.finished) return;
    run.controller.abort();
    run.finished = true;
    renderAnswer(run);
    setState("stopped");
    showNotice("info", message);
  }

  // ---------------------------------------------------------------- optional read token

  function readToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || "";
    } catch (err) {
      return ""; // storage blocked: the page still works for services without a token
    }
  }

  function authHeaders() {
    const token = readToken();
    return token ? { Authorization: "Bearer " + token } : {};
  }

  /** The service said 401: show the token form (focus it only when the user was asking). */
  function askForToken(focus) {
    ui.tokenForm.hidden = false;
    if (focus) ui.token.focus();
  }

  function useToken(token) {
    if (!token) return;
    try {
      sessionStorage.setItem(TOKEN_KEY, token);
    } catch (err) {
      showNotice("error", "This browser blocks session storage, so the token cannot be used.");
      return;
    }
    ui.token.value = "";
    ui.tokenForm.hidden = true;
    loadMode();
    loadYears();
    if (run) ask(run.question);
  }

  function rememberInUrl(question, { from, to }) {
    const params = new URLSearchParams({ q: question });
    if (from !== null) params.set("from", from);
    if (to !== null) params.set("to", to);
    history.replaceState(null, "", "?" + params.toString());
  }

  // ---------------------------------------------------------------- stream events

  function handleEvent(r, { event, data }) {
    let payload;
    try {
      payload = JSON.parse(data);
    } catch (err) {
      return; // keep-alives and anything unparsable are ignored
    }
    if (!payload || typeof payload !== "object") return;
    if (event === "sources") onSources(r, payload);
    else if (event === "delta") onDelta(r, payload);
    else if (event === "done") onDone(r, payload);
    else if (event === "error") fail(r, "The answer failed: " + (payload.detail || "unknown error"));
  }

  function onSources(r, { documents = [], mode }) {
    r.tSources = performance.now();
    r.docs = documents;
    renderSources(r);
    if (!documents.length) {
      const where = describeRange(r.range);
      showNotice("info", where
        ? `No relevant press release found for years ${where}. Try a wider year range or other words.`
        : "No relevant press release found. Try other words.");
    }
    setState("writing", mode === "llm" ? "Writing the answer…" : "Writing the answer from the passages…");
  }

  function onDelta(r, { text = "" }) {
    if (r.tFirstToken === null) r.tFirstToken = performance.now();
    r.answer += text;
    scheduleRender(r);
  }

  function onDone(r, { answer, mode, warning, timings_ms: timings, unsupported_citations: unsupported, answerable, answerability }) {
    r.tDone = performance.now();
    r.finished = true;
    if (typeof answer === "string" && answer) r.answer = answer; // the final text is authoritative
    r.unsupported = Array.isArray(unsupported) ? unsupported.filter((u) => u && typeof u.sentence === "string") : [];
    renderAnswer(r);
    markCitedSources();
    setState("done");
    if (warning) showNotice("warning", "Fallback answer: " + warning);
    if (answerable === false && r.answer.trim()) {
      const share = Math.round(100 * (Number(answerability) || 0));
      if (r.answer.startsWith(NOT_FOUND_PREFIX)) {
        showNotice("info", `Not answered: the releases found are related, not evidence (answerability ${share} %).`);
      } else {
        // an answer given although the answerability check doubts that the sources hold one (LLM mode)
        showNotice("warning", `Low confidence: the sources may not answer this question (answerability ${share} %). Check the cited passages.`);
      }
    }
    if (r.unsupported.length) {
      const n = r.unsupported.length;
      showNotice(
        "warning",
        `Citation check: ${n} sentence${n === 1 ? " is" : "s are"} not supported by the source${n === 1 ? "" : "s"} cited (marked \u26a0 in the answer).`,
      );
    }
    if (!r.answer.trim()) showNotice("info", "The service returned an empty answer.");
    else if (r.docs.length && !ui.answer.querySelector("a.cite")) {
      // E.g. "The press releases do not contain …": the passages found are near misses, not evidence.
      showNotice("info", "The answer cites none of the sources: the passages below are only the closest matches.");
    }
    renderLatency(r, mode);
    renderTimings(r, timings || {});
  }

  function fail(r, message) {
    r.finished = true;
    renderAnswer(r);
    setState("failed");
    showNotice("error", message);
    renderLatency(r, null);
  }

  // ---------------------------------------------------------------- SSE over fetch

  /**
   * Yield {event, data} for each Server-Sent Event of a fetch response. EventSource cannot POST,
   * so this parses the text/event-stream format itself: blocks separated by a blank line,
   * "event:" and "data:" fields (several data lines join with "\n"), ":" lines are comments.
   */
  async function* readServerSentEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
      buffer = done ? "" : blocks.pop();
      for (const block of blocks) {
        const event = parseEventBlock(block);
        if (event) yield event;
      }
      if (done) return;
    }
  }

  function parseEventBlock(block) {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return data.length ? { event, data: data.join("\n") } : null;
  }

  // ---------------------------------------------------------------- rendering: state

  /**
   * searching → writing → done | failed | stopped. Written to #result's data-state so tests
   * (and styles) can wait on it without guessing from the text.
   */
  function setState(state, text) {
    const busy = state === "searching" || state === "writing";
    ui.result.dataset.state = state;
    ui.status.hidden = !busy;
    if (busy) ui.statusText.textContent = text;
    ui.answer.setAttribute("aria-busy", String(busy));
    ui.stopButton.hidden = !busy;
  }

  function showNotice(kind, message) {
    const line = document.createElement("p");
    line.className = "notice__line notice__line--" + kind;
    line.textContent = message;
    ui.notice.append(line);
    ui.notice.hidden = false;
  }

  function clearNotices() {
    ui.notice.replaceChildren();
    ui.notice.hidden = true;
  }

  function resetResult(range) {
    clearNotices();
    ui.result.hidden = false;
    ui.answer.replaceChildren();
    ui.sources.replaceChildren();
    ui.latency.textContent = "";
    ui.timings.replaceChildren();
    ui.details.hidden = true;
    ui.details.open = false;
    const where = describeRange(range);
    ui.filterChip.hidden = !where;
    ui.filterChip.textContent = where ? "Years " + where : "";
  }

  function renderLatency(r, mode) {
    const parts = [];
    if (mode) parts.push(mode === "llm" ? "LLM answer" : "Extractive answer");
    parts.push("first token " + (r.tFirstToken === null ? "–" : seconds(r.tFirstToken - r.t0)));
    if (r.tDone !== null) parts.push("total " + seconds(r.tDone - r.t0));
    ui.latency.textContent = parts.join(" · ");
  }

  function renderTimings(r, serverTimings) {
    const rows = [];
    if (r.tSources !== null) rows.push(["sources received (client)", ms(r.tSources - r.t0)]);
    if (r.tFirstToken !== null) rows.push(["first token (client)", ms(r.tFirstToken - r.t0)]);
    rows.push(["total (client)", ms(r.tDone - r.t0)]);
    for (const [stage, value] of Object.entries(serverTimings)) {
      rows.push([stage + " (server)", typeof value === "number" ? ms(value) : String(value)]);
    }
    for (const [name, value] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      ui.timings.append(dt, dd);
    }
    ui.details.hidden = false;
  }

  const seconds = (milliseconds) => (milliseconds / 1000).toFixed(2) + "\u00a0s"; // no break before "s"
  const ms = (milliseconds) => Math.round(milliseconds).toLocaleString("en") + "\u00a0ms";

  // ---------------------------------------------------------------- rendering: answer

  /** Deltas can arrive faster than the screen refreshes: re-render at most once per frame. */
  function scheduleRender(r) {
    if (r.renderPending) return;
    r.renderPending = true;
    requestAnimationFrame(() => {
      r.renderPending = false;
      if (r === run) renderAnswer(r);
    });
  }

  /**
   * Rebuild the answer from the full text so far. Re-parsing the whole text (not just the delta)
   * handles a citation split across deltas ("[" then "2]").
   */
  function renderAnswer(r) {
    ui.answer.replaceChildren(markedFragment(r.answer, r.docs.length, r.unsupported || []));
    ui.answer.classList.toggle("answer--streaming", !r.finished);
  }

  /** The answer with each sentence the citation check found unsupported wrapped in a visible mark. */
  function markedFragment(text, sourceCount, unsupported) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    const spans = unsupported
      .map((u) => ({ u, at: text.indexOf(u.sentence) }))
      .filter((s) => s.at >= 0)
      .sort((a, b) => a.at - b.at);
    for (const { u, at } of spans) {
      if (at < last) continue;
      fragment.append(citationFragment(text.slice(last, at), sourceCount));
      const mark = document.createElement("mark");
      mark.className = "unsupported";
      mark.dataset.unsupported = "true";
      mark.title = "Citation check: the source" + (u.cited && u.cited.length > 1 ? "s" : "") + " cited do not support this sentence";
      mark.append(citationFragment(u.sentence, sourceCount));
      const badge = document.createElement("span");
      badge.className = "unsupported__badge";
      badge.textContent = "\u26a0 unsupported";
      badge.setAttribute("aria-label", "citation not supported by its source");
      mark.append(badge);
      fragment.append(mark);
      last = at + u.sentence.length;
    }
    fragment.append(citationFragment(text.slice(last), sourceCount));
    return fragment;
  }

  /** Text with "[1]" / "[1, 3]" turned into links to the source cards; other text stays text. */
  function citationFragment(text, sourceCount) {
    const fragment = document.createDocumentFragment();
    const pattern = /\[(\d+(?:\s*[,;]\s*\d+)*)\]/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      const numbers = match[1].split(/[,;]/).map((n) => Number(n.trim()));
      if (!numbers.every((n) => n >= 1 && n <= sourceCount)) continue; // not a valid citation
      fragment.append(document.createTextNode(text.slice(last, match.index)));
      for (const n of numbers) fragment.append(citationLink(n));
      last = match.index + match[0].length;
    }
    fragment.append(document.createTextNode(text.slice(last)));
    return fragment;
  }

  function citationLink(n) {
    const link = document.createElement("a");
    link.className = "cite";
    link.href = "#source-" + n;
    link.textContent = "[" + n + "]";
    link.setAttribute("aria-label", "Source " + n);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      focusSource(n);
    });
    return link;
  }

  /** Scroll to a source card and move keyboard focus there, with a brief highlight. */
  function focusSource(n) {
    const card = document.getElementById("source-" + n);
    if (!card) return;
    card.scrollIntoView({ behavior: prefersReducedMotion() ? "auto" : "smooth", block: "start" });
    card.focus({ preventScroll: true });
    card.classList.remove("source--flash");
    void card.offsetWidth; // restart the CSS animation
    card.classList.add("source--flash");
  }

  const prefersReducedMotion = () => matchMedia("(prefers-reduced-motion: reduce)").matches;

  function markCitedSources() {
    const cited = new Set([...ui.answer.querySelectorAll("a.cite")].map((a) => a.hash));
    for (const card of ui.sources.children) {
      const isCited = cited.has("#" + card.id);
      card.classList.toggle("source--cited", isCited);
      const tag = card.querySelector(".source__tag");
      if (isCited && !tag) {
        const label = document.createElement("span");
        label.className = "source__tag";
        label.textContent = "cited";
        card.querySelector(".source__head").append(label);
      }
    }
  }

  // ---------------------------------------------------------------- rendering: sources

  function renderSources(r) {
    const cards = r.docs.map((doc, i) => sourceCard(doc, i + 1, r.terms));
    // Several passages often come from one release: tone down the repeated titles.
    const seen = new Set();
    for (const card of cards) {
      card.classList.toggle("source--repeat", seen.has(card.dataset.file));
      seen.add(card.dataset.file);
    }
    ui.sources.replaceChildren(...cards);
  }

  function sourceCard(doc, n, terms) {
    const meta = doc.meta || {};
    const card = ui.sourceTemplate.content.firstElementChild.cloneNode(true);
    card.id = "source-" + n;
    card.dataset.file = meta.file_path || "";
    if (Number.isInteger(meta.year)) card.dataset.year = String(meta.year);
    card.querySelector(".source__n").textContent = String(n);
    const title = card.querySelector(".source__title");
    title.id = `source-${n}-title`;
    title.textContent = meta.title || meta.file_path || "Untitled";
    card.querySelector("article").setAttribute("aria-labelledby", title.id);
    card.querySelector(".source__file").textContent = meta.file_path || "unknown file";
    card.querySelector(".source__dates").append(datesFragment(meta));
    appendHighlighted(card.querySelector(".source__passage"), doc.content || "", terms);
    wireFullRelease(card, n, doc, terms);
    return card;
  }

  /** The dates a release mentions (newest first), or its year when it names no full date. */
  function datesFragment(meta) {
    const fragment = document.createDocumentFragment();
    const dates = Array.isArray(meta.dates) ? meta.dates : [];
    const shown = dates.slice(0, 3);
    for (const iso of shown) {
      const time = document.createElement("time");
      time.className = "date";
      time.dateTime = iso;
      time.textContent = formatIsoDate(iso);
      fragment.append(time);
    }
    if (dates.length > shown.length) {
      const more = document.createElement("span");
      more.className = "date date--more";
      more.textContent = `+${dates.length - shown.length} more`;
      more.title = dates.slice(shown.length).map(formatIsoDate).join(", ");
      fragment.append(more);
    }
    if (!shown.length && Number.isInteger(meta.year)) {
      const year = document.createElement("span");
      year.className = "date";
      year.textContent = "mentions " + meta.year;
      fragment.append(year);
    }
    return fragment;
  }

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function formatIsoDate(iso) {
    const [year, month, day] = String(iso).split("-");
    const name = MONTHS[Number(month) - 1];
    if (!name) return String(iso);
    return day ? `${Number(day)} ${name} ${year}` : `${name} ${year}`;
  }

  // ---------------------------------------------------------------- full release

  function wireFullRelease(card, n, doc, terms) {
    const button = card.querySelector(".source__toggle");
    const region = card.querySelector(".source__full");
    region.id = `source-${n}-full`;
    region.setAttribute("aria-label", "Full release " + (doc.meta?.file_path || ""));
    button.setAttribute("aria-controls", region.id);
    let loaded = false;
    button.addEventListener("click", async () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      setExpanded(button, region, open);
      if (open && !loaded) loaded = await loadFullRelease(region, doc, terms);
    });
  }

  function setExpanded(button, region, open) {
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? "Hide full release" : "Show full release";
    region.hidden = !open;
  }

  /** Fetch the whole release once; show it as text with the cited passage marked. */
  async function loadFullRelease(region, doc, terms) {
    const filePath = doc.meta?.file_path;
    region.setAttribute("aria-busy", "true");
    region.textContent = "Loading the release…";
    try {
      const release = await getJson(API.release(filePath));
      region.replaceChildren(fullReleaseBody(release.content || "", doc.content || "", terms));
      scrollToCited(region);
      return true;
    } catch (err) {
      const reason = err instanceof HttpError ? `${err.status}: ${err.detail}` : "network error";
      region.textContent = `Could not load ${filePath} (${reason}).`;
      return false;
    } finally {
      region.removeAttribute("aria-busy");
    }
  }

  function fullReleaseBody(fullText, passage, terms) {
    const body = document.createElement("div");
    body.className = "full-text";
    const [start, end] = locatePassage(fullText, passage);
    if (start < 0) {
      appendHighlighted(body, fullText, terms);
      return body;
    }
    appendHighlighted(body, fullText.slice(0, start), terms);
    const cited = document.createElement("span");
    cited.className = "full-text__cited";
    appendHighlighted(cited, fullText.slice(start, end), terms);
    body.append(cited);
    appendHighlighted(body, fullText.slice(end), terms);
    return body;
  }

  /**
   * Where the cited chunk sits in the full release. Chunks may differ from the release in
   * whitespace at their edges, so match on a trimmed head and tail rather than the whole chunk.
   */
  function locatePassage(fullText, passage) {
    const chunk = passage.trim();
    if (!chunk) return [-1, -1];
    const exact = fullText.indexOf(chunk);
    if (exact >= 0) return [exact, exact + chunk.length];
    const head = chunk.slice(0, 80);
    const tail = chunk.slice(-80);
    const start = fullText.indexOf(head);
    if (start < 0) return [-1, -1];
    const tailAt = fullText.indexOf(tail, start);
    return [start, tailAt >= 0 ? tailAt + tail.length : start + head.length];
  }

  function scrollToCited(region) {
    const cited = region.querySelector(".full-text__cited");
    if (cited) region.scrollTop = Math.max(0, cited.offsetTop - region.offsetTop - 24);
  }

  // ---------------------------------------------------------------- highlighting

  /**
   * A case-insensitive pattern matching the question's content words as whole words, allowing
   * simple English endings ("port" also finds "ports"), or null when there is nothing to mark.
   */
  function termPattern(question) {
    const words = question.match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) || [];
    const stems = new Set();
    for (const word of words) {
      const lower = word.toLowerCase().replace(/['’]s$/, "");
      if (STOPWORDS.has(lower)) continue;
      const isCode = /\d/.test(lower) || /^[A-Z]{2,}$/.test(word); // 5G, AI, KMD
      if (lower.length < 3 && !isCode) continue;
      stems.add(lower.length > 4 ? lower.replace(/(?:es|s)$/, "") : lower);
    }
    if (!stems.size) return null;
    // Longest first, so "campus network" style overlaps prefer the longer word.
    const alternatives = [...stems].sort((a, b) => b.length - a.length).map(escapeRegExp);
    return new RegExp(
      `(?<![\\p{L}\\p{N}])(?:${alternatives.join("|")})(?:s|es|ed|ing)?(?![\\p{L}\\p{N}])`, "giu");
  }

  const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  /** Append `text` to `parent` as text nodes, wrapping matches of `pattern` in <mark>. */
  function appendHighlighted(parent, text, pattern) {
    if (!pattern) {
      parent.append(document.createTextNode(text));
      return;
    }
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      parent.append(document.createTextNode(text.slice(last, match.index)));
      const mark = document.createElement("mark");
      mark.textContent = match[0];
      parent.append(mark);
      last = match.index + match[0].length;
    }
    parent.append(document.createTextNode(text.slice(last)));
  }

  // ---------------------------------------------------------------- HTTP helpers

  class HttpError extends Error {
    constructor(status, detail) {
      super(`HTTP ${status}: ${detail}`);
      this.status = status;
      this.detail = detail;
    }
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json", ...authHeaders() } });
    if (!response.ok) throw new HttpError(response.status, await readDetail(response));
    return response.json();
  }

  /** The `detail` of an error reply: a string, or FastAPI's list of validation errors. */
  async function readDetail(response) {
    let body;
    try {
      body = await response.json();
    } catch (err) {
      return response.statusText || "error";
    }
    const detail = body && body.detail;
    if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
    if (typeof detail === "string") return detail;
    return detail ? JSON.stringify(detail) : response.statusText || "error";
  }

  init();
})();
