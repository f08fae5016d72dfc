// rollbook serve: reload after each rebuild, swap stylesheets in place,
// show build errors over the page and warnings as a dismissable banner.
(function () {
  "use strict";
  var KEY = "rollbook-scroll:" + location.pathname;
  try {
    var y = sessionStorage.getItem(KEY);
    if (y !== null) { sessionStorage.removeItem(KEY); window.addEventListener("load", function () { window.scrollTo(0, +y); }); }
  } catch (e) { /* storage off */ }

  function el(tag, attrs, text) {
    var n = document.createElement(tag);
    for (var k in attrs) n.setAttribute(k, attrs[k]);
    if (text) n.textContent = text;
    return n;
  }
  function clear(id) { var n = document.getElementById(id); if (n) n.remove(); }

  function overlay(err) {
    clear("rollbook-overlay");
    var box = el("div", { id: "rollbook-overlay", role: "alertdialog", "aria-live": "assertive", "aria-label": "Build error",
      style: "position:fixed;inset:0;z-index:2147483647;background:rgba(20,0,0,.88);color:#fff;font:14px/1.5 ui-monospace,monospace;padding:2rem;overflow:auto" });
    box.appendChild(el("h2", { style: "margin:0 0 1rem;font:600 18px system-ui,sans-serif;color:#ff9b9b" }, err.message || "Build failed"));
    var list = el("ul", { style: "list-style:none;padding:0;margin:0" });
    (err.findings || []).filter(function (f) { return f.severity === "error"; }).forEach(function (f) {
      var li = el("li", { "class": "rollbook-finding", style: "margin:0 0 .9rem" });
      li.appendChild(el("strong", { "class": "rollbook-pos" }, f.file + ":" + f.line + ":" + f.col));
      li.appendChild(document.createTextNode(" " + f.rule + ": " + f.message));
      if (f.fix) li.appendChild(el("div", { style: "color:#bfe3bf" }, "→ " + f.fix));
      list.appendChild(li);
    });
    box.appendChild(list);
    box.appendChild(el("p", { style: "color:#ccc" }, "The last good version of the site is still served. This message goes away when the file is fixed."));
    document.body.appendChild(box);
  }

  function banner(warnings) {
    clear("rollbook-warnings");
    if (!warnings || !warnings.length) return;
    var b = el("div", { id: "rollbook-warnings", role: "status",
      style: "position:fixed;bottom:0;left:0;right:0;z-index:2147483646;background:#fff8c5;color:#4d2d00;border-top:1px solid #d4a72c;padding:.5rem 1rem;font:13px system-ui,sans-serif" });
    b.appendChild(el("strong", {}, warnings.length + " warning(s): "));
    b.appendChild(document.createTextNode(warnings.slice(0, 3).map(function (w) { return w.file + ":" + w.line + " " + w.message; }).join(" · ")));
    var x = el("button", { type: "button", "aria-label": "Dismiss warnings", style: "float:right" }, "×");
    x.onclick = function () { b.remove(); };
    b.appendChild(x);
    document.body.appendChild(b);
  }

  function connect() {
    var es = new EventSource("/_rollbook/events");
    function reload(build) {
      try {
        sessionStorage.setItem(KEY, String(window.scrollY));
        sessionStorage.setItem("rollbook-build", String(build));
      } catch (e) { /* ignore */ }
      location.reload();
    }
    es.addEventListener("hello", function (ev) {
      // A rebuild that finished while this page was loading sent its
      // reload to nobody: catch up.
      var build = JSON.parse(ev.data).build, seen = null;
      try { seen = sessionStorage.getItem("rollbook-build"); } catch (e) { /* ignore */ }
      if (seen !== null && build > +seen) { reload(build); return; }
      try { sessionStorage.setItem("rollbook-build", String(build)); } catch (e) { /* ignore */ }
    });
    es.addEventListener("reload", function (ev) { reload(JSON.parse(ev.data).build); });
    es.addEventListener("css", function () {
      clear("rollbook-overlay");
      document.querySelectorAll('link[rel="stylesheet"]').forEach(function (l) {
        var u = new URL(l.href); u.searchParams.set("v", Date.now()); l.href = u.toString();
      });
    });
    es.addEventListener("build-error", function (ev) { overlay(JSON.parse(ev.data)); });
    es.addEventListener("warnings", function (ev) { banner(JSON.parse(ev.data).warnings); });
    es.onerror = function () { es.close(); setTimeout(connect, 500); };
    window.rollbookLive = es;
  }
  connect();
})();
