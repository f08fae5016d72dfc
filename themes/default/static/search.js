// rollbook search: a client for the sharded index under _search/. It loads
// the manifest once, then only the term shards a query's words need and the
// document chunks of the results shown. No framework, no build step.
const box = document.getElementById("search");
if (box) init(box);

// tokens splits a query into words by the index's rules (internal/search):
// runs of letters, decimal digits and -_. trimmed of -_. and lower-cased
// one character at a time, as Go's strings.ToLower does (no final sigma,
// İ to i). The index also holds each identifier's parts, so whole words
// are all a query needs.
export function tokens(text) {
  const out = [];
  for (let raw of text.split(/[^\p{L}\p{Nd}\-_.]+/u)) {
    raw = raw.replace(/^[-_.]+|[-_.]+$/g, "");
    if (!raw) continue;
    out.push(Array.from(raw, (c) => c === "\u0130" ? "i" : c.toLowerCase()).join(""));
  }
  return out;
}

// shardKey names the shard of a term's first n characters, as the index
// does: ASCII letters and digits as they are, anything else in hex.
export function shardKey(t, n) {
  let k = "";
  for (const ch of Array.from(t).slice(0, n)) {
    k += /^[a-z0-9]$/.test(ch) ? ch : "_" + ch.codePointAt(0).toString(16);
  }
  return k;
}

function init(box) {
  const root = new URL(box.dataset.root || "./", location.href);
  const base = new URL("_search/", root);
  const input = document.getElementById("search-input");
  const panel = document.getElementById("search-panel");
  const list = document.getElementById("search-results");
  const status = document.getElementById("search-status");
  const facetsEl = document.getElementById("search-facets");
  const cache = new Map();
  let manifest = null, facets = null, active = -1, results = [], seq = 0;
  // partialOf is [words matched, words typed] when the results shown are
  // partial matches, else null.
  let partialOf = null;
  const selected = {}; // facet -> value

  // rollbook bundle's copy on disk may not fetch: its index comes as a
  // script that sets rollbookSearchFiles, by path under _search/.
  const bundled = window.rollbookSearchFiles;
  const fetchJSON = (path) => {
    if (!cache.has(path) && bundled && Object.hasOwn(bundled, path)) cache.set(path, Promise.resolve(bundled[path]));
    if (!cache.has(path)) {
      cache.set(path, fetch(new URL(path, base)).then((r) => {
        if (!r.ok) throw new Error(path + ": HTTP " + r.status);
        return r.json();
      }).catch((e) => { cache.delete(path); throw e; }));
    }
    return cache.get(path);
  };

  // The shards a word needs: its two-letter shard, or, where that was
  // split because it was large, its three-letter one. A split prefix's
  // two-letter words sit in a sub-shard named like the prefix, so the
  // three-letter key is tried first. A word of two letters or fewer is
  // still being typed: every shard of its prefix.
  function shardsFor(word) {
    const len = Array.from(word).length;
    const two = shardKey(word, manifest.prefix);
    if (len <= manifest.prefix) return manifest.shards.filter((k) => k.startsWith(two));
    const three = shardKey(word, manifest.prefix + 1);
    if (manifest.shards.includes(three)) return [three];
    return manifest.shards.includes(two) ? [two] : [];
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

  // The posting lists a query word needs, with the factor each counts
  // for: the word itself, its completions (for the word being typed) and
  // one-edit neighbours of words of 5+ letters. A list is flat:
  // doc, score, heading, doc, score, heading, … best first.
  // With lazy set (a one-word query and no filter), a word that is a big
  // term ranks with the best postings the shard holds: the best ten of
  // the word and its completions are among the best of each list. out.big
  // then names the full list, which only the counts need.
  async function termLists(word, isLast, rows, lazy) {
    const out = [], full = [];
    const isMap = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
    // A shard holds its terms ("t") and the result rows of their best
    // documents ("r"): one round trip.
    const shards = await Promise.all(shardsFor(word).map((key) => fetchJSON("t/" + key + ".json").then((file) => {
      if (!isMap(file) || !isMap(file.t) || !isMap(file.r)) throw new Error("index shard " + key + " is malformed");
      for (const d in file.r) rows.set(+d, file.r[d]);
      return file.t;
    })));
    // A completion of the word being typed counts at most what the word
    // itself scores at best: a rare completion ("1208" for "12") must not
    // outrank the plan that has the word exactly.
    let cap = Infinity;
    for (const shard of shards) {
      const own = shard[word];
      const top = isMap(own) ? own.top : own;
      if (Array.isArray(top) && top.length >= 3) cap = top[1];
    }
    const found = [];
    for (const shard of shards) {
      for (const term in shard) {
        let factor = 0;
        if (term === word) factor = 1;
        else if (isLast && term.startsWith(word)) factor = 0.8;
        else if (word.length >= 5 && editDistanceAtMostOne(term, word)) factor = 0.6;
        if (factor) found.push([term, factor, shard[term]]);
      }
    }
    for (const [term, factor, entry] of found) {
      let list = entry;
      if (lazy && factor === 1 && isMap(entry)) {
        if (!Array.isArray(entry.top) || typeof entry.f !== "string" || typeof entry.n !== "number") throw new Error("index shard entry " + term + " is malformed");
        out.push([check(term, entry.top), 1]);
        out.big = { term, file: entry.f, n: entry.n };
        continue;
      }
      // While a word is still being typed, its longer completions add
      // their best documents only; a big term keeps just those in the
      // shard and its full list in a file of its own.
      if (isMap(list)) {
        if (!Array.isArray(list.top) || typeof list.f !== "string") throw new Error("index shard entry " + term + " is malformed");
        if (factor !== 0.8) {
          full.push(bigList(term, list.f).then((l) => out.push([l, factor])));
          continue;
        }
        list = list.top;
      }
      list = check(term, list);
      out.push(factor === 0.8 ? [list.subarray(0, manifest.top * 3), factor, cap] : [list, factor]);
    }
    await Promise.all(full);
    return out;
  }

  // A big term's full list comes in document order with gaps for
  // document numbers; it becomes the flat doc, score, heading triples
  // once, when first fetched.
  const bigLists = new Map();
  function bigList(term, file) {
    if (!bigLists.has(file)) {
      bigLists.set(file, fetchJSON(file).then((v) => {
        if (!v || !Array.isArray(v.d) || !Array.isArray(v.s) || !Array.isArray(v.h) || v.d.length !== v.s.length) throw new Error("index entry " + term + " is malformed");
        // Headings come in document order too: merge them in.
        const out = new Int32Array(v.d.length * 3);
        let doc = 0, j = 0;
        for (let i = 0; i < v.d.length; i++) {
          doc += v.d[i];
          out[3 * i] = doc; out[3 * i + 1] = v.s[i];
          while (j + 1 < v.h.length && v.h[j] < doc) j += 2;
          out[3 * i + 2] = j + 1 < v.h.length && v.h[j] === doc ? v.h[j + 1] : -1;
        }
        return out;
      }).catch((e) => { bigLists.delete(file); throw e; }));
    }
    return bigLists.get(file);
  }

  // Shard lists become typed arrays once each: the scoring loop then
  // sees one kind of array (big lists are typed too) and stays fast.
  const typed = new WeakMap();
  function check(term, list) {
    if (!Array.isArray(list) || list.length % 3) throw new Error("index entry " + term + " is malformed");
    let t = typed.get(list);
    if (!t) { t = Int32Array.from(list); typed.set(list, t); }
    return t;
  }

  // Per-document working arrays, indexed by document number: a query
  // touches tens of thousands of postings, and typed arrays keep that to
  // a few milliseconds without allocating per document.
  let acc, cnt, hit, head, wbest, whead, match, touched;
  function arrays(n) {
    if (acc && acc.length === n) return;
    acc = new Float64Array(n); cnt = new Uint16Array(n); hit = new Uint32Array(n); head = new Int32Array(n);
    wbest = new Float64Array(n).fill(-1); whead = new Int32Array(n); match = new Uint8Array(n);
    touched = new Int32Array(n);
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
    const n = manifest.docs;
    const words = tokens(query);
    const phrase = query.trim().toLowerCase();
    const typing = !/\s$/.test(query);
    // Every word's shards at once. The facets are needed first only to
    // filter by one; otherwise their buttons follow the results.
    const rows = new Map();
    const facetsReady = fetchJSON("f.json").then((f) => { facets = f; });
    const lazy = words.length === 1 && !Object.keys(selected).length;
    const [lists] = await Promise.all([
      Promise.all(words.map((w, i) => termLists(w, typing && i === words.length - 1, rows, lazy))),
      Object.keys(selected).length ? facetsReady : null,
    ]);
    const big = lists.length === 1 ? lists[0].big : null;
    if (my !== seq) return; // a newer keystroke won
    arrays(n);
    acc.fill(0); cnt.fill(0); hit.fill(0); head.fill(-1);
    for (let wi = 0; wi < lists.length; wi++) {
      // A document counts once per word: its best match for the word.
      let nt = 0;
      for (const [list, factor, cap = Infinity] of lists[wi]) {
        for (let k = 0; k < list.length; k += 3) {
          const d = list[k], s = Math.min(list[k + 1], cap) * factor;
          if (d < 0 || d >= n) continue;
          if (s > wbest[d]) { // a score can be 0: a word in almost every plan
            if (wbest[d] < 0) touched[nt++] = d;
            wbest[d] = s; whead[d] = list[k + 2];
          }
        }
      }
      // Every document scores for the words it has (cnt, and which in
      // hit): a plan with all of them but one is the answer when no plan
      // has every word.
      for (let t = 0; t < nt; t++) {
        const d = touched[t];
        cnt[d]++;
        if (wi < 32) hit[d] |= 1 << wi;
        acc[d] += wbest[d];
        if (head[d] < 0) head[d] = whead[d];
        wbest[d] = -1;
      }
    }
    // Matches: documents with at least k words (every word, or all
    // documents for an empty query, for facet browsing), then each chosen
    // facet.
    const keep = (k) => {
      for (let d = 0; d < n; d++) match[d] = cnt[d] >= k ? 1 : 0;
      for (const d of manifest.gone || []) match[d] = 0; // deleted while serving
      for (const key in selected) {
        const allowed = new Uint8Array(n);
        for (const d of decode(facets[key][selected[key]] || [])) allowed[d] = 1;
        for (let d = 0; d < n; d++) match[d] &= allowed[d];
      }
    };
    keep(words.length);
    const matched = () => { let t = 0; for (let d = 0; d < n; d++) t += match[d]; return t; };
    let total = matched();
    // No plan has every word: the plans with the most of them, when that
    // is most of the words, marked as partial matches. (With any plan
    // having every word, only those are shown: exact matches first.)
    let partial = 0;
    if (!total && words.length > 1) {
      keep(1);
      let most = 0;
      for (let d = 0; d < n; d++) if (match[d] && cnt[d] > most) most = cnt[d];
      if (most >= Math.ceil(words.length / 2)) {
        partial = most;
        keep(most);
        total = matched();
      } else {
        match.fill(0);
      }
    }
    const showFacets = words.length > 0 || Object.keys(selected).length > 0;
    const top = topN(n, 10);
    // Facet counts need every match: a big term's full list first.
    // The matches so far are the lists' best postings: with the full list
    // added, every match is known. It is fetched once typing pauses, not
    // for every word on the way.
    const paused = () => new Promise((r) => setTimeout(r, 150)).then(() => my === seq);
    const facetsDone = (big ? paused().then((still) => still ? Promise.all([facetsReady, bigList(big.term, big.file)]) : null).then((got) => {
      if (!got || my !== seq) return;
      const l = got[1];
      // (A document deleted while serving is in no list.)
      for (let k = 0; k < l.length; k += 3) if (l[k] >= 0 && l[k] < n) match[l[k]] = 1;
      total = matched();
      showStatus(total);
    }) : facets ? null : facetsReady);
    if (big) total = Math.max(total, big.n);
    if (!facetsDone) renderFacets(showFacets);
    else facetsDone.then(() => { if (my === seq) renderFacets(showFacets); }, (e) => {
      if (my === seq) facetsEl.textContent = "Filters are unavailable: " + e.message + ".";
    });
    // Rows came with the shards for most results; the rest (and a heading
    // a row lacks) come from the documents' chunks.
    const missing = top.filter((d) => !rows.has(d) || (head[d] >= 0 && !(rows.get(d)[6] || {})[head[d]]));
    const chunks = await Promise.all([...new Set(missing.map((d) => Math.floor(d / manifest.chunk)))].map((c) => fetchJSON("d/" + c + ".json").then((v) => [c, v])));
    if (my !== seq) return;
    for (const [c, chunk] of chunks) {
      if (!Array.isArray(chunk)) throw new Error("result chunk " + c + " is malformed");
      for (const d of missing) if (Math.floor(d / manifest.chunk) === c) rows.set(d, chunk[d % manifest.chunk]);
    }
    results = top.map((d) => {
      const row = rows.get(d);
      if (!Array.isArray(row)) throw new Error("result data for document " + d + " is missing");
      const [url, title, service, kind, risk, summary, headings] = row;
      let score = acc[d];
      // Phrase boosts: the whole title typed, or the query as a phrase in it.
      const t = title.toLowerCase();
      if (phrase && t === phrase) score *= 4;
      else if (phrase && t.includes(phrase)) score *= 2;
      const h = head[d];
      const anchor = h >= 0 && headings && headings[h] ? "#" + headings[h][0] : "";
      const missing = partial ? words.filter((_, i) => i < 32 && !(hit[d] & (1 << i))) : [];
      return { url, title, service, kind, risk, summary, anchor, heading: anchor ? headings[h][1] : "", score, missing };
    }).sort((a, b) => b.score - a.score);
    partialOf = partial ? [partial, words.length] : null;
    render(query, words, total);
  }

  // topN picks the best n matching documents without sorting them all.
  function topN(docs, n) {
    const best = [];
    const better = (a, b) => acc[a] > acc[b] || (acc[a] === acc[b] && a < b);
    for (let d = 0; d < docs; d++) {
      if (!match[d]) continue;
      if (best.length < n) {
        best.push(d);
        for (let i = best.length - 1; i > 0 && better(best[i], best[i - 1]); i--) [best[i], best[i - 1]] = [best[i - 1], best[i]];
        continue;
      }
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

  function render(query, words, total) {
    list.replaceChildren();
    list.dataset.query = query; // which keystroke the list answers
    active = results.length ? 0 : -1;
    results.forEach((r, i) => {
      const li = document.createElement("li");
      li.id = "search-opt-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      const a = document.createElement("a");
      const href = new URL(r.url.replace(/^\//, ""), root);
      // A copy on disk (rollbook bundle) has no server to answer a folder.
      if (href.protocol === "file:" && href.pathname.endsWith("/")) href.pathname += "index.html";
      a.href = href.href + r.anchor;
      a.className = "r-title";
      a.append(mark(r.title, words));
      const meta = document.createElement("span");
      meta.className = "r-meta";
      meta.textContent = [r.service, r.kind, r.risk && "risk " + r.risk].filter(Boolean).join(" · ");
      if (r.heading) {
        // The section the words were found in, with them marked.
        meta.append(meta.textContent ? " · § " : "§ ", mark(r.heading, words));
      }
      const snip = document.createElement("span");
      snip.className = "r-snippet";
      snip.append(mark(r.summary || "", words));
      li.append(a, meta, snip);
      if (r.missing.length) {
        li.classList.add("partial");
        li.dataset.partial = "true";
        const miss = document.createElement("span");
        miss.className = "r-missing";
        miss.textContent = "Partial match: no " + r.missing.map((w) => "“" + w + "”").join(", ");
        li.append(miss);
      }
      li.addEventListener("mousedown", (e) => { e.preventDefault(); location.href = a.href; });
      list.append(li);
    });
    input.setAttribute("aria-activedescendant", active >= 0 ? "search-opt-0" : "");
    showStatus(total);
    open(true);
  }

  function showStatus(total) {
    const shown = total > results.length ? ", showing " + results.length : "";
    if (partialOf && total) {
      status.textContent = "No plan has every word; " + total + (total === 1 ? " plan has " : " plans have ") + partialOf[0] + " of " + partialOf[1] + shown + ".";
      return;
    }
    status.textContent = total === 0 ? "No plans match “" + input.value + "”." : total + (total === 1 ? " plan" : " plans") + shown;
  }

  // Facet buttons with the number of current matches each would keep.
  function renderFacets(show) {
    facetsEl.replaceChildren();
    if (!show && !input.value) return;
    for (const f of ["service", "kind", "risk", "severity", "environment", "owner", "drill"]) {
      const values = facets[f] || {};
      for (const v of Object.keys(values).sort()) {
        let n = 0;
        for (const d of decode(values[v])) n += match[d];
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

  // The manifest (a kilobyte) is what every first query waits for: fetch
  // it once the page is idle.
  (window.requestIdleCallback || setTimeout)(() => fetchJSON("manifest.json").then((m) => { manifest = manifest || m; }, () => {}));

  input.addEventListener("input", update);
  input.addEventListener("focus", () => {
    // The writer means to search: fetch what every query needs while
    // they type the first letters.
    fetchJSON("manifest.json").then((m) => { manifest = manifest || m; }, () => {});
    fetchJSON("f.json").then((f) => { facets = facets || f; }, () => {});
    if (input.value || Object.keys(selected).length) update();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { e.preventDefault(); move(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); move(-1); }
    else if (e.key === "Enter") {
      if (active >= 0 && results[active]) { e.preventDefault(); location.href = list.children[active].querySelector("a").href; }
    } else if (e.key === "Escape") {
      input.value = ""; for (const f in selected) delete selected[f];
      list.replaceChildren(); delete list.dataset.query; facetsEl.replaceChildren(); status.textContent = ""; open(false);
    }
  });
  input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input) open(false); }, 150));
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement !== input && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
      e.preventDefault(); input.focus();
    }
  });
}
