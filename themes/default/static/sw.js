// rollbook service worker: the runbooks stay readable when the network,
// the VPN or the single sign-on in front of the site is down.
// Every request of the site goes to the network first, so a reader online
// always sees the last published plan (a stale rollback procedure is worse
// than none); what came back is kept, and served when the network fails.
// Once a page is visited, the whole search index is fetched in the
// background, so any query works offline, not only the ones typed online.
// Hand-written rather than Workbox: these forty lines are the one strategy
// the site needs, and no build step or npm is needed to ship them.
"use strict";
const CACHE = "rollbook-v1";
const scope = new URL(self.registration.scope);

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (ev) => ev.waitUntil(self.clients.claim().then(keepSearch)));

self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname) || url.pathname.startsWith("/_rollbook/")) return;
  ev.respondWith(fromNetwork(req));
});

async function fromNetwork(req) {
  let res;
  try {
    res = await fetch(req);
  } catch (err) {
    // A page asked for with a query (?namespace=…) is the page.
    const hit = await caches.match(req, { ignoreSearch: req.mode === "navigate" }).catch(() => undefined);
    if (hit) return hit;
    if (req.mode === "navigate") {
      return new Response("<!doctype html><meta charset=utf-8><title>Offline</title><p>This page was not visited while online, so it is not kept for offline reading. " +
        "<a href=\"" + scope.pathname + "\">The site's home page</a> may be.</p>", { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
    }
    throw err;
  }
  // Keeping a copy must never cost the reader the answer: a cache that
  // cannot be written (quota, a race with another write) is only not kept.
  if (res.ok) {
    const copy = res.clone();
    caches.open(CACHE).then((cache) => cache.put(req, copy)).catch(() => {});
  }
  return res;
}

// keepSearch fetches the search index (manifest, facets, term shards and
// document chunks) into the cache; a failure leaves what was kept.
async function keepSearch() {
  try {
    const cache = await caches.open(CACHE);
    const base = new URL("_search/", scope);
    const res = await fetch(new URL("manifest.json", base));
    if (!res.ok) return;
    const m = await res.clone().json();
    await cache.put(new URL("manifest.json", base).href, res);
    const files = ["f.json"].concat((m.shards || []).map((k) => "t/" + k + ".json"));
    for (let c = 0; c * (m.chunk || 1) < (m.docs || 0); c++) files.push("d/" + c + ".json");
    // One by one: a file that fails leaves the others kept (addAll keeps
    // none), and a few at a time leave the reader's own requests room.
    for (let i = 0; i < files.length; i += 8) {
      await Promise.all(files.slice(i, i + 8).map((f) => cache.add(new URL(f, base).href).catch(() => {})));
    }
  } catch (e) {
    // Offline already, or the site has no search: pages are still kept.
  }
}
