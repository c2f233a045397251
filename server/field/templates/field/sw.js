// Fieldbook field app: the service worker that keeps the app shell for offline use.
//
// It answers only GET requests for the app's own files under the scope. API calls
// pass straight through: the outbox owns them, and an answer from a cache could make
// it believe the server holds something it does not.
const VERSION = {{ version|tojson }};
const SHELL = {{ shell|tojson }};
const SCOPE = {{ scope|tojson }};
const CACHE = `fieldbook-field-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // "reload" skips the HTTP cache, so a new version never mixes with old files
      await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith("fieldbook-field-") && key !== CACHE) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(SCOPE)) return;
  if (url.pathname === `${SCOPE}sw.js`) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      // every screen of the app is drawn by the one shell page
      const key = request.mode === "navigate" ? SCOPE : request;
      const hit = await cache.match(key, { ignoreSearch: request.mode === "navigate" });
      return hit || fetch(request);
    })(),
  );
});
