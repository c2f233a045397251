// The phone's durable store (IndexedDB). Everything captured is written here, blobs
// included, before any network call; the outbox works only from what is stored here.

const NAME = "fieldbook-field";
const VERSION = 1;

let opening = null;

/** Open the database once per page, creating its stores on first use. */
export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(NAME, VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore("settings", { keyPath: "key" });
        db.createObjectStore("cache", { keyPath: "key" });
        db.createObjectStore("visits", { keyPath: "uuid" });
        const items = db.createObjectStore("items", { keyPath: "uuid" });
        items.createIndex("visit_uuid", "visit_uuid");
        db.createObjectStore("recordings", { keyPath: "uuid" });
        db.createObjectStore("chunks", { keyPath: ["recording_uuid", "seq"] });
      };
      request.onsuccess = () => {
        const db = request.result;
        // a newer version of the app in another tab must be able to upgrade the schema
        db.onversionchange = () => db.close();
        resolve(db);
      };
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("Close other Fieldbook tabs, then reload."));
    });
  }
  return opening;
}

/** Resolve with a request's result (IDB requests are events, not promises). */
export function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Run `work(stores)` in one transaction and resolve with its result once the
 * transaction has committed. `work` may only wait on IDB requests, never on the
 * network or on crypto: anything else lets the transaction close under it.
 */
export async function transaction(names, mode, work) {
  const db = await openDb();
  const list = [].concat(names);
  return new Promise((resolve, reject) => {
    // "strict" asks the browser to flush to disk before reporting success, so a
    // capture acknowledged on screen survives a crash or a flat battery
    const tx = db.transaction(list, mode, { durability: "strict" });
    let result;
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("The phone's storage refused the change."));
    const stores = Object.fromEntries(list.map((name) => [name, tx.objectStore(name)]));
    Promise.resolve()
      .then(() => work(stores))
      .then(
        (value) => {
          result = value;
        },
        (error) => {
          try {
            tx.abort();
          } catch {
            // already finished
          }
          reject(error);
        },
      );
  });
}

export function get(store, key) {
  return transaction(store, "readonly", (s) => done(s[store].get(key)));
}

export function getAll(store) {
  return transaction(store, "readonly", (s) => done(s[store].getAll()));
}

export function put(store, value) {
  return transaction(store, "readwrite", (s) => done(s[store].put(value)));
}

export function remove(store, key) {
  return transaction(store, "readwrite", (s) => done(s[store].delete(key)));
}

export function byIndex(store, index, key) {
  return transaction(store, "readonly", (s) => done(s[store].index(index).getAll(key)));
}

/** Read a record, let `change` edit it, write it back, all in one transaction. */
export function update(store, key, change) {
  return transaction(store, "readwrite", async (s) => {
    const record = await done(s[store].get(key));
    if (record === undefined) return undefined;
    const changed = change(record) || record;
    await done(s[store].put(changed));
    return changed;
  });
}

/** Return a setting's value, or `fallback` when it was never set. */
export async function setting(key, fallback = null) {
  const record = await get("settings", key);
  return record === undefined ? fallback : record.value;
}

export function setSetting(key, value) {
  return put("settings", { key, value });
}
