// rollbook default theme: what a runbook needs during an incident (SPEC 2.1).
// Commands filled from the page's inputs (the URL query, the form, the
// last values used on this site), check boxes that keep their state and
// times per page, copy buttons on message templates, the service worker
// that keeps visited pages for offline reading, and links that work from
// a copy on disk. Values are only ever set as text, never as markup.
(function () {
  "use strict";
  var rootMeta = document.querySelector('meta[name="rollbook-root"]');
  var root = new URL(rootMeta ? rootMeta.content : "./", location.href);
  var storeOK = (function () { try { localStorage.setItem("rollbook-probe", "1"); localStorage.removeItem("rollbook-probe"); return true; } catch (e) { return false; } })();
  function load(key) { if (!storeOK) return null; try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; } }
  function save(key, v) { if (!storeOK) return; try { if (v === null) localStorage.removeItem(key); else localStorage.setItem(key, JSON.stringify(v)); } catch (e) { /* full or private mode */ } }
  function say(el, text) { if (!el) return; el.textContent = text; setTimeout(function () { if (el.textContent === text) el.textContent = ""; }, 4000); }
  function copy(text) { return window.rollbookCopy ? window.rollbookCopy(text) : navigator.clipboard.writeText(text); }

  // --- Inputs: {{ .name }} placeholders in commands. -----------------------
  // Values are kept per site (its root path), so the namespace typed on one
  // runbook fills the next one opened during the same incident.
  var inputsKey = "rollbook-inputs:" + root.pathname;
  var form = document.querySelector("[data-inputs-form]");
  if (form) {
    var fields = Array.prototype.slice.call(form.querySelectorAll("input[name]"));
    var query = new URLSearchParams(location.search);
    var kept = load(inputsKey) || {};
    var fromQuery = false;
    fields.forEach(function (f) {
      if (query.has(f.name)) { f.value = query.get(f.name); fromQuery = true; }
      else if (typeof kept[f.name] === "string") f.value = kept[f.name];
      else f.value = f.dataset.default || "";
    });
    // Above the first command that uses an input, where the reader starts,
    // outside any list the command is a step of.
    var first = document.querySelector(".content .code[data-inputs]");
    while (first && first.parentNode && !first.parentNode.classList.contains("content")) first = first.parentNode;
    if (first && first.parentNode) first.parentNode.insertBefore(form, first);
    form.hidden = false;
    var status = form.querySelector(".inputs-status");
    var fill = function () {
      var values = {};
      fields.forEach(function (f) {
        var bad = false;
        if (f.value && f.dataset.pattern) {
          try { bad = !new RegExp("^(?:" + f.dataset.pattern + ")$", "u").test(f.value); } catch (e) { /* an expression JS cannot read: no check */ }
        }
        f.setAttribute("aria-invalid", bad ? "true" : "false");
        values[f.name] = f.value;
      });
      document.querySelectorAll(".content .input[data-input], .panels .input[data-input]").forEach(function (el) {
        if (!el.dataset.written) el.dataset.written = el.textContent;
        var v = values[el.dataset.input];
        // textContent: a value is text in the command, never markup.
        el.textContent = v ? v : el.dataset.written;
        el.classList.toggle("input-filled", !!v);
      });
      return values;
    };
    form.addEventListener("input", function () {
      var values = fill();
      save(inputsKey, Object.assign(load(inputsKey) || {}, values));
    });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    form.addEventListener("click", function (ev) {
      if (ev.target.closest("[data-inputs-clear]")) {
        fields.forEach(function (f) { f.value = f.dataset.default || ""; });
        var all = load(inputsKey) || {};
        fields.forEach(function (f) { delete all[f.name]; });
        save(inputsKey, Object.keys(all).length ? all : null);
        fill();
        if (location.search) history.replaceState(null, "", location.pathname + location.hash);
        say(status, "Values cleared.");
        fields[0].focus();
      } else if (ev.target.closest("[data-inputs-link]")) {
        var q = new URLSearchParams();
        fields.forEach(function (f) { if (f.value) q.set(f.name, f.value); });
        var u = new URL(location.href);
        u.search = q.toString();
        copy(u.href).then(function () { say(status, "Link with these values copied."); }, function () { say(status, u.href); });
      }
    });
    var values = fill();
    if (fromQuery) save(inputsKey, Object.assign(kept, values));
  }

  // --- Checklists: - [ ] items keep their state and times per page. --------
  var boxes = Array.prototype.slice.call(document.querySelectorAll(".content input.task"));
  var bar = document.querySelector("[data-checklist-bar]");
  if (boxes.length && bar) {
    var runKey = "rollbook-tasks:" + location.pathname;
    // A box is known by its text (and which of the same text it is), so a
    // plan edited between two visits does not move ticks to other items.
    var seen = {};
    var keyOf = boxes.map(function (b) {
      var label = b.getAttribute("aria-label") || "";
      seen[label] = (seen[label] || 0) + 1;
      return label + "#" + seen[label];
    });
    var written = boxes.map(function (b) { return b.checked; });
    var count = bar.querySelector(".checklist-count");
    var fmt = function (iso) {
      var d = new Date(iso);
      return isNaN(d) ? "" : d.toISOString().slice(11, 16) + " UTC";
    };
    var show = function () {
      var run = load(runKey) || { started: null, done: {} };
      var n = 0;
      boxes.forEach(function (b, i) {
        var at = run.done[keyOf[i]];
        b.checked = at ? true : (run.started ? false : written[i]);
        if (b.checked) n++;
        var t = b.parentNode.querySelector(":scope > .task-time");
        if (at) {
          if (!t) { t = document.createElement("time"); t.className = "task-time"; b.insertAdjacentElement("afterend", t); }
          t.dateTime = at;
          t.textContent = fmt(at);
          t.title = "checked " + new Date(at).toString();
        } else if (t) t.remove();
      });
      count.textContent = n + " of " + boxes.length + " checked" + (run.started ? " · run started " + fmt(run.started) : "");
      return run;
    };
    boxes.forEach(function (b, i) {
      b.disabled = false;
      b.addEventListener("change", function () {
        var run = load(runKey) || { started: new Date().toISOString(), done: {} };
        if (!run.started) run.started = new Date().toISOString();
        if (b.checked) run.done[keyOf[i]] = new Date().toISOString();
        else delete run.done[keyOf[i]];
        save(runKey, run);
        show();
      });
    });
    var firstList = boxes[0].closest("ul, ol");
    firstList.parentNode.insertBefore(bar, firstList);
    bar.hidden = false;
    bar.addEventListener("click", function (ev) {
      if (ev.target.closest("[data-checklist-reset]")) {
        save(runKey, { started: new Date().toISOString(), done: {} });
        show();
        say(bar.querySelector(".checklist-status"), "New run started: every box cleared.");
      } else if (ev.target.closest("[data-checklist-copy]")) {
        var run = show();
        copy(progress(run)).then(function () {
          say(bar.querySelector(".checklist-status"), "Progress copied as Markdown.");
        }, function () { say(bar.querySelector(".checklist-status"), "Copy failed: select the list and copy it."); });
      }
    });
    // progress is the checklist as Markdown for the incident channel: each
    // box under its section, with the time it was checked.
    var progress = function (run) {
      var title = (document.querySelector("h1") || {}).textContent || document.title;
      var lines = ["**" + title.trim() + "**: " + boxes.filter(function (b) { return b.checked; }).length + " of " + boxes.length + " checked" +
        (run.started ? ", run started " + new Date(run.started).toISOString().replace("T", " ").slice(0, 16) + " UTC" : ""), location.href.split("#")[0]];
      var section = null;
      boxes.forEach(function (b, i) {
        var h = heading(b);
        if (h !== section) { section = h; if (h) lines.push("", "_" + h + "_"); }
        var at = run.done[keyOf[i]];
        lines.push("- [" + (b.checked ? "x" : " ") + "] " + (at ? fmt(at) + " " : "") + (b.getAttribute("aria-label") || ""));
      });
      return lines.join("\n") + "\n";
    };
    var heading = function (el) {
      for (var n = el.closest("li"); n; n = n.previousElementSibling || n.parentElement) {
        if (/^H[1-4]$/.test(n.tagName)) return n.firstChild ? n.firstChild.textContent.trim() : "";
        if (n.classList && n.classList.contains("content")) return "";
      }
      return "";
    };
    show();
  }

  // --- Message templates: copy buttons on the quoted messages of a
  // communication section ("Rollback decided (#incident): "We are …"").
  document.querySelectorAll(".content h2, .content h3").forEach(function (h) {
    if (!/^communication/i.test(h.textContent.trim())) return;
    for (var n = h.nextElementSibling; n && !/^H[1-3]$/.test(n.tagName); n = n.nextElementSibling) {
      var items = n.tagName === "P" ? [n] : Array.prototype.slice.call(n.querySelectorAll("li, p"));
      items.forEach(function (it) {
        var m = /"([^"]{8,})"|“([^”]{8,})”/.exec(it.textContent);
        if (!m || it.querySelector("[data-copy-text]")) return;
        var btn = document.createElement("button");
        btn.type = "button";
        btn.className = "copy copy-message";
        btn.textContent = "Copy";
        btn.dataset.copyText = m[1] || m[2];
        btn.setAttribute("aria-label", "Copy message: " + (m[1] || m[2]).slice(0, 60));
        it.appendChild(document.createTextNode(" "));
        it.appendChild(btn);
      });
    }
  });

  // --- A copy on disk (rollbook bundle): folder links open their index.html.
  if (location.protocol === "file:") {
    var fix = function (a) {
      if (!a.href || a.dataset.fileLink) return;
      var u = new URL(a.href, location.href);
      if (u.protocol === "file:" && u.pathname.slice(-1) === "/") { u.pathname += "index.html"; a.href = u.href; }
      a.dataset.fileLink = "1";
    };
    document.querySelectorAll("a[href]").forEach(fix);
    document.addEventListener("click", function (ev) { var a = ev.target.closest && ev.target.closest("a[href]"); if (a) fix(a); }, true);
  }

  // --- Print: collapsed sections print open (print.css does it where the
  // browser can; this is for the others), and close again after.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (d) { d.open = true; d.dataset.printOpened = "1"; });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("details[data-print-opened]").forEach(function (d) { d.open = false; delete d.dataset.printOpened; });
  });

  // --- Offline: the service worker the build writes keeps visited pages.
  var sw = document.querySelector('meta[name="rollbook-sw"]');
  if (sw && "serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(new URL(sw.content, location.href).href, { scope: root.href }).catch(function () { /* not kept offline */ });
  }
})();
