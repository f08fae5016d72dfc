// rollbook search: a client for the sharded index under _search/. It loads
// the manifest once, then only the term shards a query's words need and the
// document chunks of the results shown. No framework, no build step.
const box = document.getElementById("search");
if (box) init(box);

function init(box) {
  const root = new URL(box.dataset.root || "./", location.href);
  const base = new URL("_search/", root);
  const input = document.getElementById("search-input");
  const panel = document.getElementById("search-panel");
  const list = document.getElementById("search-results");
  const status = document.getElementById("search-status");
  const facetsEl = document.getElementById("search-facets");
  const cache = new Map();
  const PREFIX_POSTINGS = 300;
  let manifest = null, facets = null, active = -1, results = [], seq = 0;
  const selected = {}; // facet -> value

  const fetchJSON = (path) => {
    if (!cache.has(path)) {
      cache.set(path, fetch(new URL(path, base)).then((r) => {
        if (!r.ok) throw new Error(path + ": HTTP " + r.status);
        return r.json();
      }).catch((e) => { cache.delete(path); throw e; }));
    }
    return cache.get(path);
  };

  function shardKey(t, n) {
    let k = "";
    for (const ch of Array.from(t).slice(0, n)) {
      k += /^[a-z0-9]$/.test(ch) ? ch : "_" + ch.codePointAt(0).toString(16);
    }
    return k;
  }

  // The shards a word needs: its two-letter shard, or, where that was
  // split because it was large, its three-letter one (all of them for a
  // two-letter prefix still being typed).
  function shardsFor(word) {
    const two = shardKey(word, manifest.prefix);
    if (manifest.shards.includes(two)) return [two];
    if (Array.from(word).length > manifest.prefix) {
      const three = shardKey(word, manifest.prefix + 1);
      return manifest.shards.includes(three) ? [three] : [];
    }
    return manifest.shards.filter((k) => k.startsWith(two) && k.length > two.length);
  }

  // Same rules as the Go tokenizer: whole identifiers and their parts.
  function tokens(text) {
    const out = [];
    for (let raw of text.split(/[^\p{L}\p{N}\-_.]+/u)) {
      raw = raw.replace(/^[-_.]+|[-_.]+$/g, "");
      if (!raw) continue;
      out.push(raw.toLowerCase());
    }
    return out;
  }

  function editDistanceAtMostOne(a, b) {
    if (a === b) return true;
    if (Math.abs(a.length - b.length) > 1) return false;
    let i = 0, j = 0, edits = 0;
    while (i < a.length && j < b.length) {
      if (a[i] === b[j]) { i++; j++; continue; }
      if (++edits > 1) return false;
      if (a.length > b.length) i++;
      else if (a.length < b.length) j++;
      else { i++; j++; }
    }
    return edits + (a.length - i) + (b.length - j) <= 1;
  }

  // Postings for one query word: exact, prefix (for the word being typed)
  // and one-edit matches on words of 5+ letters.
  async function postings(word, isLast) {
    const hits = new Map();
    for (const key of shardsFor(word)) {
      const shard = await fetchJSON("t/" + key + ".json");
      if (typeof shard !== "object" || shard === null || Array.isArray(shard)) throw new Error("index shard " + key + " is malformed");
      for (const term in shard) {
        let factor = 0;
        if (term === word) factor = 1;
        else if (isLast && term.startsWith(word)) factor = 0.8;
        else if (word.length >= 5 && editDistanceAtMostOne(term, word)) factor = 0.6;
        if (!factor) continue;
        // Postings are sorted best first: while a word is still being
        // typed, its longer completions contribute their best documents only.
        const list = factor === 0.8 ? shard[term].slice(0, PREFIX_POSTINGS) : shard[term];
        for (const [doc, score, heading] of list) {
          const prev = hits.get(doc);
          const s = score * factor;
          if (!prev || prev.score < s) hits.set(doc, { score: s, heading });
        }
      }
    }
    return hits;
  }

  // Facet lists are delta-encoded; decode each once.
  const decoded = new Map();
  function decode(ids) {
    let out = decoded.get(ids);
    if (!out) {
      let p = 0;
      out = Int32Array.from(ids, (d) => (p += d));
      decoded.set(ids, out);
    }
    return out;
  }

  async function run(query) {
    const my = ++seq;
    manifest = manifest || await fetchJSON("manifest.json");
    const words = tokens(query);
    let scores = null;
    const phrase = query.trim().toLowerCase();
    for (let i = 0; i < words.length; i++) {
      const hits = await postings(words[i], i === words.length - 1 && !/\s$/.test(query));
      const next = new Map();
      for (const [doc, h] of hits) {
        if (scores === null) next.set(doc, { score: h.score, heading: h.heading });
        else if (scores.has(doc)) { const s = scores.get(doc); next.set(doc, { score: s.score + h.score, heading: s.heading >= 0 ? s.heading : h.heading }); }
      }
      scores = next;
    }
    if (scores === null) { // empty query: every document, for facet browsing
      scores = new Map();
      for (let d = 0; d < manifest.docs; d++) scores.set(d, { score: 0, heading: -1 });
    }
    const needFacets = words.length === 0 || Object.keys(selected).length > 0 || true;
    if (needFacets && !facets) facets = await fetchJSON("f.json");
    let docs = [...scores.keys()];
    for (const f in selected) {
      const allowed = new Set(decode(facets[f][selected[f]] || []));
      docs = docs.filter((d) => allowed.has(d));
    }
    if (my !== seq) return; // a newer keystroke won
    renderFacets(new Set(docs), words.length > 0 || Object.keys(selected).length > 0);
    const top = topN(docs, scores, 10);
    const chunks = await Promise.all([...new Set(top.map((d) => Math.floor(d / manifest.chunk)))].map((c) => fetchJSON("d/" + c + ".json").then((v) => [c, v])));
    if (my !== seq) return;
    const byChunk = new Map(chunks);
    results = top.map((d) => {
      const row = byChunk.get(Math.floor(d / manifest.chunk))[d % manifest.chunk];
      const [url, title, service, kind, risk, summary, headings] = row;
      let score = scores.get(d).score;
      if (phrase && title.toLowerCase().includes(phrase)) score *= 2; // exact phrase boost
      const h = scores.get(d).heading;
      const anchor = h >= 0 && headings && headings[h] ? "#" + headings[h][0] : "";
      return { url, title, service, kind, risk, summary, anchor, heading: anchor ? headings[h][1] : "", score };
    }).sort((a, b) => b.score - a.score);
    render(words, docs.length);
  }

  // topN picks the best n documents without sorting them all.
  function topN(docs, scores, n) {
    const best = [];
    const better = (a, b) => scores.get(a).score > scores.get(b).score || (scores.get(a).score === scores.get(b).score && a < b);
    for (const d of docs) {
      if (best.length < n) { best.push(d); best.sort((a, b) => (better(a, b) ? -1 : 1)); continue; }
      if (better(d, best[n - 1])) {
        best[n - 1] = d;
        for (let i = n - 1; i > 0 && better(best[i], best[i - 1]); i--) [best[i], best[i - 1]] = [best[i - 1], best[i]];
      }
    }
    return best;
  }

  function mark(text, words) {
    const frag = document.createDocumentFragment();
    if (!words.length) { frag.append(text); return frag; }
    const re = new RegExp("(" + words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|") + ")", "ig");
    let last = 0;
    text.replace(re, (m, _g, off) => {
      frag.append(text.slice(last, off));
      const el = document.createElement("mark"); el.textContent = m; frag.append(el);
      last = off + m.length; return m;
    });
    frag.append(text.slice(last));
    return frag;
  }

  function render(words, total) {
    list.replaceChildren();
    active = results.length ? 0 : -1;
    results.forEach((r, i) => {
      const li = document.createElement("li");
      li.id = "search-opt-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      const a = document.createElement("a");
      a.href = new URL(r.url.replace(/^\//, ""), root).href + r.anchor;
      a.className = "r-title";
      a.append(mark(r.title, words));
      const meta = document.createElement("span");
      meta.className = "r-meta";
      meta.textContent = [r.service, r.kind, r.risk && "risk " + r.risk, r.heading && "§ " + r.heading].filter(Boolean).join(" · ");
      const snip = document.createElement("span");
      snip.className = "r-snippet";
      snip.append(mark(r.summary || "", words));
      li.append(a, meta, snip);
      li.addEventListener("mousedown", (e) => { e.preventDefault(); location.href = a.href; });
      list.append(li);
    });
    input.setAttribute("aria-activedescendant", active >= 0 ? "search-opt-0" : "");
    status.textContent = total === 0 ? "No plans match “" + input.value + "”." : total + (total === 1 ? " plan" : " plans") + (total > results.length ? ", showing " + results.length : "");
    open(true);
  }

  function renderFacets(docSet, show) {
    facetsEl.replaceChildren();
    if (!show && !input.value) return;
    for (const f of ["service", "kind", "risk", "environment", "owner", "drill"]) {
      const values = facets[f] || {};
      for (const v of Object.keys(values).sort()) {
        let n = 0;
        for (const d of decode(values[v])) if (docSet.has(d)) n++;
        if (!n && selected[f] !== v) continue;
        const b = document.createElement("button");
        b.type = "button";
        b.className = "facet";
        b.dataset.facet = f; b.dataset.value = v;
        b.setAttribute("aria-pressed", selected[f] === v ? "true" : "false");
        b.textContent = f + ": " + v + " (" + n + ")";
        b.addEventListener("mousedown", (e) => e.preventDefault());
        b.addEventListener("click", () => {
          if (selected[f] === v) delete selected[f]; else selected[f] = v;
          update(); input.focus();
        });
        facetsEl.append(b);
      }
    }
  }

  function open(on) {
    panel.hidden = !on;
    input.setAttribute("aria-expanded", on ? "true" : "false");
  }

  function move(delta) {
    if (!results.length) return;
    active = (active + delta + results.length) % results.length;
    [...list.children].forEach((li, i) => li.setAttribute("aria-selected", i === active ? "true" : "false"));
    input.setAttribute("aria-activedescendant", "search-opt-" + active);
    list.children[active].scrollIntoView({ block: "nearest" });
  }

  let pending = 0;
  function update() {
    // Results are computed off the keystroke (a zero timeout, coalescing a
    // burst of keys): typing never waits for them.
    clearTimeout(pending);
    pending = setTimeout(() => run(input.value).catch(showError), 0);
  }

  function showError(e) {
    list.replaceChildren();
    status.textContent = "Search is unavailable: " + e.message + ". Try reloading the page.";
    status.classList.add("search-error");
    open(true);
  }

  input.addEventListener("input", update);
  input.addEventListener("focus", () => { if (input.value || Object.keys(selected).length) update(); });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { e.preventDefault(); move(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); move(-1); }
    else if (e.key === "Enter") {
      if (active >= 0 && results[active]) { e.preventDefault(); location.href = list.children[active].querySelector("a").href; }
    } else if (e.key === "Escape") {
      input.value = ""; for (const f in selected) delete selected[f];
      list.replaceChildren(); facetsEl.replaceChildren(); status.textContent = ""; open(false);
    }
  });
  input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input) open(false); }, 150));
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement !== input && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
      e.preventDefault(); input.focus();
    }
  });
}
