// Field work on the phone: start a visit, capture notes, moments, photos and audio,
// answer the checklist, submit. Each step is written to IndexedDB (with its outbox
// item, in the same transaction) before anything is sent.

import * as db from "./db.js";
import { enqueue } from "./outbox.js";
import {
  clockTime,
  currentPlace,
  deviceDescription,
  isoLocal,
  newUuid,
  sha256Hex,
} from "./capture.js";

const CHANNEL_NAMES = { in_person: "In person", phone: "Phone call", web: "Website" };

export function channelName(channel) {
  return CHANNEL_NAMES[channel] || channel;
}

let lastSeq = 0;

/** A number that orders items by when they were captured, even within a millisecond. */
function nextSeq() {
  lastSeq = Math.max(Date.now(), lastSeq + 1);
  return lastSeq;
}

function newItem(visit, type, fields) {
  return {
    uuid: newUuid(),
    visit_uuid: visit.uuid,
    type,
    kind: null,
    seq: nextSeq(),
    created_at: isoLocal(),
    state: "waiting",
    reason: null,
    attempts: 0,
    retry_at: null,
    ...fields,
  };
}

function withoutEmpty(object) {
  return Object.fromEntries(
    Object.entries(object).filter(
      ([, value]) => value !== null && value !== undefined && value !== "",
    ),
  );
}

/** Start a visit for a channel, from an assignment or not; returns the local visit. */
export async function startVisit({ session, study, channel, assignment = null, target = null }) {
  const now = new Date();
  const place = currentPlace();
  const title = [channelName(channel), target?.name].filter(Boolean).join(": ").slice(0, 200);
  const visit = {
    uuid: newUuid(),
    user_id: session.user.id,
    study_id: study.id,
    study_name: study.name,
    assignment_id: assignment?.id || null,
    target_id: assignment?.target_id || null,
    journey_id: assignment?.journey_id || null,
    channel,
    title,
    started_at: isoLocal(now),
    ended_at: null,
    ...place,
    device: deviceDescription(session.device_name),
    checklist_answers: {},
    manifest: [],
    status: "open",
    server_id: null,
  };
  // the exact body is kept: a retry must send the same bytes to be recognised
  const body = withoutEmpty({
    client_uuid: visit.uuid,
    channel,
    assignment_id: visit.assignment_id,
    journey_id: visit.journey_id,
    target_id: visit.target_id,
    title,
    started_at: visit.started_at,
    latitude: place.latitude,
    longitude: place.longitude,
    device: visit.device,
  });
  const item = newItem(visit, "visit", { body, label: `Start of visit: ${title}` });
  await enqueue(["visits", "items"], async (s) => {
    await db.done(s.visits.put(visit));
    await db.done(s.items.put(item));
  });
  return visit;
}

/**
 * Keep an evidence item (a note or a file) with its visit's manifest entry.
 * `extra(stores)` may do more in the same transaction (the recorder drops its chunks).
 */
async function keepEvidence(visitUuid, item, extraStores = [], extra = null) {
  await enqueue(["visits", "items", ...extraStores], async (s) => {
    const visit = await db.done(s.visits.get(visitUuid));
    if (!visit) throw new Error("This visit is no longer on the phone.");
    visit.manifest.push({ client_uuid: item.uuid, kind: item.kind, filename: item.filename || "" });
    await db.done(s.visits.put(visit));
    await db.done(s.items.put(item));
    if (extra) await extra(s);
  });
  return item;
}

/** Keep a note exactly as written. */
export async function addNote(visit, text, label = "Note") {
  const capturedAt = new Date();
  const sha256 = await sha256Hex(new TextEncoder().encode(text));
  const item = newItem(visit, "note", {
    kind: "note",
    label,
    text,
    sha256,
    size: new TextEncoder().encode(text).length,
    captured_at: isoLocal(capturedAt),
    ...currentPlace(),
  });
  return keepEvidence(visit.uuid, item);
}

/** Stamp the time of a moment for later review (kept as a note until moments have an API). */
export function markMoment(visit, label) {
  const now = new Date();
  const text = `Moment at ${clockTime(now)} — ${label.trim() || "marked"}`;
  return addNote(visit, text, "Moment");
}

/**
 * Keep a captured file: its bytes are copied into IndexedDB (a camera's temporary
 * file may vanish) and hashed before the item exists.
 */
export async function addFile(
  visitUuid,
  blob,
  { kind, filename, capturedAt, place, device, label },
  extraStores,
  extra,
) {
  const bytes = await blob.arrayBuffer();
  // the server refuses empty evidence; say so now rather than fail later in the outbox
  if (!bytes.byteLength) throw new Error("the file is empty.");
  const sha256 = await sha256Hex(bytes);
  const visit = await db.get("visits", visitUuid);
  const item = newItem(visit, "file", {
    kind,
    label,
    filename,
    mime: blob.type || "application/octet-stream",
    size: bytes.byteLength,
    sha256,
    blob: new Blob([bytes], { type: blob.type }),
    captured_at: isoLocal(capturedAt),
    ...place,
    device: device || visit.device,
    upload_url: null,
    offset: 0,
  });
  return keepEvidence(visitUuid, item, extraStores, extra);
}

/** Save the checklist answers on the phone (they are sent when the visit is submitted). */
export function saveAnswers(visitUuid, answers) {
  return db.update("visits", visitUuid, (visit) => {
    visit.checklist_answers = answers;
  });
}

/** Finish the visit: queue its details (end time, answers, manifest) and its submission. */
export async function submitVisit(visitUuid) {
  const endedAt = isoLocal();
  await enqueue(["visits", "items"], async (s) => {
    const visit = await db.done(s.visits.get(visitUuid));
    if (visit.status !== "open") return;
    visit.status = "submitted";
    visit.ended_at = endedAt;
    await db.done(s.visits.put(visit));
    // a visit started before the first fix still gets a place
    const place = visit.latitude === null ? currentPlace() : {};
    const details = newItem(visit, "details", {
      label: "Checklist answers and end time",
      body: withoutEmpty({
        ended_at: endedAt,
        checklist_answers: visit.checklist_answers,
        evidence_manifest: visit.manifest,
        latitude: place.latitude,
        longitude: place.longitude,
      }),
    });
    await db.done(s.items.put(details));
    await db.done(s.items.put(newItem(visit, "submit", { label: "Submit the visit" })));
  });
}
