// rollbook default theme: copy buttons on code blocks and messages, and the light/dark toggle.
(function () {
  "use strict";
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.style.position = "fixed";
      ta.style.opacity = "0";
      document.body.appendChild(ta);
      ta.select();
      try { document.execCommand("copy") ? resolve() : reject(new Error("copy failed")); }
      catch (e) { reject(e); }
      finally { document.body.removeChild(ta); }
    });
  }
  window.rollbookCopy = copyText;
  // commands is what a responder pastes from a console session: the
  // commands without their "$ " prompts, and no output lines. A command
  // continued with a trailing backslash keeps its next lines.
  function commands(session) {
    var out = [], more = false;
    session.replace(/\n$/, "").split("\n").forEach(function (line) {
      var m = /^\s*\$ ?(.*)$/.exec(line);
      if (m) out.push(m[1]);
      else if (more) out.push(line);
      else return;
      more = /\\$/.test(line);
    });
    return out.join("\n") + (out.length ? "\n" : "");
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy], [data-copy-text]");
    if (btn) {
      // A command is copied as the page shows it: filled with the inputs.
      var code = btn.dataset.copyText === undefined && btn.closest(".code") ? btn.closest(".code").querySelector("pre code") : null;
      var text = code ? code.innerText : btn.dataset.copyText || "";
      if (code && /\blanguage-(console|shell-session)\b/.test(code.className)) text = commands(text);
      copyText(text).then(function () {
        btn.textContent = "Copied";
        btn.classList.add("copied");
      }, function () {
        btn.textContent = "Select and copy";
      }).finally(function () {
        setTimeout(function () { btn.textContent = "Copy"; btn.classList.remove("copied"); }, 1500);
      });
      return;
    }
    var toggle = ev.target.closest("[data-theme-toggle]");
    if (toggle) {
      var root = document.documentElement;
      var dark = root.dataset.theme ? root.dataset.theme === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
      root.dataset.theme = dark ? "light" : "dark";
      try { localStorage.setItem("rollbook-theme", root.dataset.theme); } catch (e) { /* private mode */ }
    }
  });
})();

// A link to a section lands with its heading below the sticky header: its
// height (which wraps with the window) is what scroll-margin leaves free.
(function () {
  "use strict";
  var header = document.querySelector(".site-header");
  if (!header) return;
  var root = document.documentElement;
  var set = function () { root.style.setProperty("--header-h", header.getBoundingClientRect().height + "px"); };
  set();
  window.addEventListener("resize", set);
  if (location.hash.length > 1) {
    var target = null;
    try { target = document.getElementById(decodeURIComponent(location.hash.slice(1))); } catch (e) { /* a malformed fragment names nothing */ }
    if (target) target.scrollIntoView();
  }
})();
