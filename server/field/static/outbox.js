// The outbox: sends what the phone captured, one item at a time, and keeps every
// item until the server has confirmed it.
//
// Each item is one request to make: create the visit, send a note or a file, save
// the visit's details, submit it. Its state, kept in IndexedDB with the item:
//
//   waiting ──▶ uploading ──▶ stored        (confirmed by the server: sha256 matched)
//      ▲  ▲          │
//      │  │          ├──▶ failed             (reason kept; retried after a backoff,
//      │  └──────────┘      │                 or, for a refusal, when tapped)
//      │                    ▼
//      └──────────────── (retry time reached, "Send now", "Try again")
//   waiting ──▶ held ──▶ waiting            (big file on a metered connection)
//
// Nothing is ever removed because a request failed. A file's bytes leave the phone
// only after the server's record of it shows the same sha256 as the phone computed;
// files go through tus with the upload URL kept in the item, so a reload or a lost
// connection resumes from the server's offset (HEAD) instead of starting over.

import * as api from "./api.js";
import * as db from "./db.js";
import * as tus from "./tus.js";
import { isoLocal } from "./capture.js";

export const events = new EventTarget();

// Big files wait for Wi-Fi when the phone says data is metered (Data Saver, cellular).
export const BIG_UPLOAD_BYTES = 4 * 1024 * 1024;
const FIRST_DELAY_S = 1;
const MAX_DELAY_S = 300;
// statuses worth retrying by themselves: timeouts, a busy upload, rate limits, 5xx
const RETRY_STATUSES = new Set([408, 423, 425, 429]);
const LOOK_AGAIN_MS = 30_000;
const PRIORITY = { visit: 0, details: 1, note: 2, file: 3, submit: 4 };
const SUBMITTED = new Set(["submitted", "in_review", "approved"]);

// Other tabs of the app hear about changes too, so every open outbox stays current.
const channel = "BroadcastChannel" in self ? new BroadcastChannel("fieldbook-outbox") : null;
if (channel) {
  channel.onmessage = (message) => {
    events.dispatchEvent(new CustomEvent(message.data.type, { detail: message.data.detail }));
  };
}

function emit(type, detail = {}) {
  events.dispatchEvent(new CustomEvent(type, { detail }));
  channel?.postMessage({ type, detail });
}

/** The server holds something other than what the phone captured. */
class MismatchError extends Error {}

/** Time to wait before attempt number `attempts + 1`: 1 s, 2 s, 4 s, … up to 5 minutes. */
export function backoffMs(attempts) {
  const seconds = Math.min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** Math.max(0, attempts - 1));
  // a little spread, so phones that lost the same server do not return in step
  return Math.round(seconds * 1000 * (1 + Math.random() * 0.2));
}

/** Why big uploads should wait, or null when the connection is not known to be metered. */
export function meteredReason() {
  const connection = navigator.connection;
  if (!connection) return null;
  if (connection.saveData) return "Data Saver is on";
  if (connection.type === "cellular") return "the phone is on mobile data";
  return null;
}

async function setState(uuid, changes) {
  const item = await db.update("items", uuid, (record) =>
    Object.assign(record, changes, { updated_at: Date.now() }),
  );
  emit("change", { uuid });
  return item;
}

function storedState(serverId) {
  return {
    state: "stored",
    reason: null,
    retry_at: null,
    server_id: serverId,
    confirmed_at: isoLocal(),
  };
}

// --- the sending loop -----------------------------------------------------------

let running = false;
let again = false;
let wakeTimer = null;
let session = null;

/** Tell the outbox who is signed in (null when nobody is); sending is for their items. */
export function setSession(value) {
  session = value;
  if (session) kick();
}

/** Send whatever can be sent now; calls while running make it look again when done. */
export function kick() {
  if (running) {
    again = true;
    return;
  }
  running = true;
  const run = async () => {
    do {
      again = false;
      await drain();
    } while (again);
  };
  // one tab sends at a time; the others show the shared state
  const work = navigator.locks
    ? navigator.locks.request("fieldbook-outbox", { ifAvailable: true }, (lock) =>
        lock ? run() : null,
      )
    : run();
  Promise.resolve(work)
    .catch((error) => console.error("Outbox stopped:", error))
    .finally(() => {
      running = false;
      scheduleWake();
    });
}

async function drain() {
  for (;;) {
    if (!session || (await db.setting("auth_problem"))) return;
    if (!navigator.onLine) {
      emit("change");
      return;
    }
    const next = await pickNext();
    if (!next) return;
    await attempt(next);
  }
}

async function pickNext() {
  const [items, visits, meteredAllowed] = await Promise.all([
    db.getAll("items"),
    db.getAll("visits"),
    db.setting("allow_metered", false),
  ]);
  const visitsByUuid = new Map(visits.map((visit) => [visit.uuid, visit]));
  const metered = meteredAllowed ? null : meteredReason();
  const now = Date.now();
  const ready = [];
  for (const item of items) {
    const visit = visitsByUuid.get(item.visit_uuid);
    if (!visit || visit.user_id !== session.user.id || item.state === "stored") continue;
    if (item.state === "failed" && (item.retry_at === null || item.retry_at > now)) continue;
    if (item.type !== "visit" && !visit.server_id) continue;
    if (item.type === "submit" && items.some((o) => isBefore(o, item) && o.state !== "stored")) {
      continue;
    }
    if (item.type === "file" && item.size > BIG_UPLOAD_BYTES && metered) {
      if (item.state !== "held") {
        await setState(item.uuid, { state: "held", reason: `Waiting for Wi-Fi: ${metered}.` });
      }
      continue;
    }
    ready.push(item);
  }
  ready.sort((a, b) => PRIORITY[a.type] - PRIORITY[b.type] || a.seq - b.seq);
  return ready[0] || null;
}

// a visit is submitted only after everything else of it is stored
function isBefore(other, submit) {
  return other.visit_uuid === submit.visit_uuid && other.uuid !== submit.uuid;
}

async function attempt(item) {
  await setState(item.uuid, { state: "uploading", reason: null });
  try {
    await SENDERS[item.type](item);
  } catch (error) {
    await failed(item, error);
  }
}

async function failed(item, error) {
  if (error instanceof api.NetworkError && !navigator.onLine) {
    // plain offline is not a failure: the item waits for the "online" event
    await setState(item.uuid, { state: "waiting", reason: null });
    return;
  }
  if (api.isAuthError(error)) {
    await setState(item.uuid, { state: "waiting", reason: null });
    await db.setSetting("auth_problem", error.message);
    emit("auth", { message: error.message });
    return;
  }
  const attempts = (item.attempts || 0) + 1;
  const retryable =
    error instanceof api.NetworkError ||
    (error instanceof api.ApiError && (error.status >= 500 || RETRY_STATUSES.has(error.status)));
  await setState(item.uuid, {
    state: "failed",
    attempts,
    reason: describe(error),
    error_code: error.code || null,
    retry_at: retryable ? Date.now() + backoffMs(attempts) : null,
  });
}

function describe(error) {
  if (error instanceof api.NetworkError) return error.message;
  if (error instanceof api.ApiError) {
    if (error.status >= 500) return `Server error ${error.status}: ${error.message}`;
    const fields = Object.entries(error.errors || {})
      .map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`)
      .join("; ");
    return `${error.message}${fields ? ` (${fields})` : ""} [${error.code}]`;
  }
  return error.message || String(error);
}

function scheduleWake() {
  clearTimeout(wakeTimer);
  db.getAll("items").then((items) => {
    const times = items
      .filter((item) => item.state === "failed" && item.retry_at !== null)
      .map((item) => item.retry_at);
    if (times.length) {
      wakeTimer = setTimeout(kick, Math.max(0, Math.min(...times) - Date.now()) + 50);
    }
  });
}

// --- senders: one per kind of item ----------------------------------------------

async function visitOf(item) {
  return db.get("visits", item.visit_uuid);
}

function confirm(item, evidence) {
  if (evidence.client_uuid !== item.uuid || evidence.sha256 !== item.sha256) {
    throw new MismatchError(
      `The server holds other bytes for this item (sha256 ${evidence.sha256}, ` +
        `the phone has ${item.sha256}); it stays on the phone.`,
    );
  }
}

async function sendVisit(item) {
  const visit = await visitOf(item);
  const created = await api.call("POST", `/studies/${visit.study_id}/visits`, { json: item.body });
  if (created.client_uuid !== visit.uuid)
    throw new MismatchError("The server answered with another visit.");
  await db.transaction(["visits", "items"], "readwrite", async (s) => {
    const current = await db.done(s.visits.get(visit.uuid));
    current.server_id = created.id;
    await db.done(s.visits.put(current));
    const record = await db.done(s.items.get(item.uuid));
    await db.done(s.items.put(Object.assign(record, storedState(created.id))));
  });
  emit("change", { uuid: item.uuid });
}

async function sendNote(item) {
  const visit = await visitOf(item);
  const note = await api.call("POST", `/visits/${visit.server_id}/notes`, {
    json: { client_uuid: item.uuid, text: item.text, captured_at: item.captured_at },
  });
  confirm(item, note);
  await setState(item.uuid, storedState(note.id));
}

function progress(item, sent) {
  emit("progress", { uuid: item.uuid, sent, total: item.size });
}

const gone = (error) => error instanceof api.ApiError && [404, 410].includes(error.status);

async function sendFile(item) {
  const visit = await visitOf(item);
  let url = item.upload_url;
  let offset = 0;
  let evidenceId = null;
  if (url) {
    try {
      ({ offset, evidenceId } = await tus.head(url));
    } catch (error) {
      // an expired upload starts again; the server keeps one item per client UUID
      if (!gone(error)) throw error;
      url = null;
    }
  }
  if (!url) {
    ({ url, offset, evidenceId } = await tus.create(item.size, {
      visit_id: visit.server_id,
      kind: item.kind,
      client_uuid: item.uuid,
      filename: item.filename,
      captured_at: item.captured_at,
      sha256: item.sha256,
      device: item.device,
      latitude: item.latitude,
      longitude: item.longitude,
      accuracy_m: item.accuracy_m,
    }));
    // kept before the first byte is sent, so a reload resumes this very upload
    await setState(item.uuid, { upload_url: url, offset, state: "uploading" });
  }
  let damagedChunks = 0;
  while (!evidenceId && offset < item.size) {
    const from = offset;
    const chunk = item.blob.slice(from, from + tus.CHUNK_BYTES);
    progress(item, from);
    try {
      ({ offset, evidenceId } = await tus.patch(url, from, chunk, (sent) =>
        progress(item, from + sent),
      ));
    } catch (error) {
      if (error instanceof api.ApiError && error.code === "upload.offset_mismatch") {
        ({ offset, evidenceId } = await tus.head(url));
        continue;
      }
      if (error instanceof api.ApiError && error.status === 460 && damagedChunks++ < 3) continue;
      if (gone(error)) await setState(item.uuid, { upload_url: null, offset: 0 });
      throw error;
    }
    await setState(item.uuid, { offset });
  }
  if (!evidenceId) ({ evidenceId } = await tus.head(url));
  if (!evidenceId) throw new api.NetworkError("The server has the bytes but no evidence yet.");
  const evidence = await api.call("GET", `/evidence/${evidenceId}`);
  confirm(item, evidence);
  // the server's copy is confirmed by sha256: only now may the phone's copy go
  await setState(item.uuid, { ...storedState(evidence.id), blob: null, offset: item.size });
}

function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

async function sendDetails(item) {
  const visit = await visitOf(item);
  let saved;
  try {
    saved = await api.call("PATCH", `/visits/${visit.server_id}`, { json: item.body });
  } catch (error) {
    // already submitted (an earlier answer was lost): fine if it holds what we sent
    if (!(error instanceof api.ApiError && error.status === 409)) throw error;
    saved = await api.call("GET", `/visits/${visit.server_id}`);
    if (canonical(saved.checklist_answers) !== canonical(item.body.checklist_answers)) throw error;
  }
  await setState(item.uuid, storedState(saved.id));
}

async function sendSubmit(item) {
  const visit = await visitOf(item);
  const current = await api.call("GET", `/visits/${visit.server_id}`);
  if (current.missing_evidence && current.missing_evidence.length) {
    throw new MismatchError(
      `The server is missing ${current.missing_evidence.length} item(s) of this visit.`,
    );
  }
  if (!SUBMITTED.has(current.status)) {
    await api.call("POST", `/visits/${visit.server_id}/transitions`, { json: { to: "submitted" } });
  }
  await db.update("visits", visit.uuid, (record) =>
    Object.assign(record, { server_status: "submitted" }),
  );
  await setState(item.uuid, storedState(visit.server_id));
}

const SENDERS = {
  visit: sendVisit,
  note: sendNote,
  file: sendFile,
  details: sendDetails,
  submit: sendSubmit,
};

// --- what the screens call ------------------------------------------------------

/** Write items (and whatever else `extra` writes) in one transaction, then send. */
export async function enqueue(stores, work) {
  await db.transaction(stores, "readwrite", work);
  emit("change");
  kick();
}

/** Make failed items due now and send ("Send now"). */
export async function sendNow() {
  const items = await db.getAll("items");
  for (const item of items) {
    if (item.state === "failed" && item.retry_at !== null)
      await setState(item.uuid, { retry_at: 0 });
  }
  kick();
}

/** Send one item again after a refusal ("Try again"). */
export async function retry(uuid) {
  await setState(uuid, { state: "waiting", reason: null, retry_at: null, attempts: 0 });
  kick();
}

/** Allow (or stop allowing) big uploads on metered connections. */
export async function allowMetered(allowed) {
  await db.setSetting("allow_metered", allowed);
  if (!allowed) {
    emit("change");
    return;
  }
  for (const item of await db.getAll("items")) {
    if (item.state === "held") await setState(item.uuid, { state: "waiting", reason: null });
  }
  kick();
}

/** Forget visits whose every item, submission included, the server has confirmed. */
export async function clearSent() {
  const items = await db.getAll("items");
  const done = new Set(
    items
      .filter((item) => item.type === "submit" && item.state === "stored")
      .map((item) => item.visit_uuid),
  );
  await db.transaction(["items", "visits"], "readwrite", async (s) => {
    for (const item of items) {
      if (done.has(item.visit_uuid) && item.state === "stored")
        await db.done(s.items.delete(item.uuid));
    }
    for (const uuid of done) {
      if (!items.some((item) => item.visit_uuid === uuid && item.state !== "stored")) {
        await db.done(s.visits.delete(uuid));
      }
    }
  });
  emit("change");
}

/** Prepare the outbox after a (re)start: an upload cut off by a reload waits again. */
export async function start() {
  for (const item of await db.getAll("items")) {
    if (item.state === "uploading") await setState(item.uuid, { state: "waiting" });
  }
  const wake = () => kick();
  window.addEventListener("online", wake);
  window.addEventListener("offline", () => emit("change"));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") kick();
  });
  navigator.connection?.addEventListener?.("change", () => {
    emit("change");
    kick();
  });
  // another tab may have been sending and closed: look again now and then
  setInterval(() => {
    if (document.visibilityState === "visible") kick();
  }, LOOK_AGAIN_MS);
}
