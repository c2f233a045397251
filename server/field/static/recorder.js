// Audio recording with MediaRecorder. Every second of audio is written to IndexedDB
// as it arrives, so a recording survives the tab being closed or the phone killing
// the app: the next start turns what was kept into an audio item.

import * as db from "./db.js";
import { addFile } from "./visits.js";
import { currentPlace, extensionFor, fileStamp, newUuid } from "./capture.js";

// in order of preference: Chromium and Firefox take WebM/Opus, Safari takes MP4/AAC
const TYPES = ["audio/webm;codecs=opus", "audio/mp4", "audio/ogg;codecs=opus", "audio/webm"];

export function canRecord() {
  return Boolean(navigator.mediaDevices?.getUserMedia && self.MediaRecorder);
}

function pickType() {
  return TYPES.find((type) => MediaRecorder.isTypeSupported?.(type)) || "";
}

const chunkRange = (uuid) => IDBKeyRange.bound([uuid, 0], [uuid, Infinity]);

/**
 * Start recording for a visit. Resolves with `{ startedAt, stop() }`; `stop()`
 * resolves with the audio item (or null when nothing was recorded).
 */
export async function startRecording(visit) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const type = pickType();
  const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  const startedAt = new Date();
  const recording = {
    uuid: newUuid(),
    visit_uuid: visit.uuid,
    mime: recorder.mimeType || type || "audio/webm",
    started_at: startedAt.getTime(),
    place: currentPlace(),
    device: visit.device,
  };
  await db.put("recordings", recording);
  let seq = 0;
  let writes = Promise.resolve();
  recorder.ondataavailable = (event) => {
    if (!event.data.size) return;
    const chunk = { recording_uuid: recording.uuid, seq: seq++, blob: event.data };
    writes = writes.then(() => db.put("chunks", chunk));
  };
  // while this lock is held no other tab treats the chunks as an abandoned recording
  let releaseLock = () => {};
  if (navigator.locks) {
    navigator.locks.request(
      `fieldbook-recording-${recording.uuid}`,
      () => new Promise((resolve) => (releaseLock = resolve)),
    );
  }
  recorder.start(1000);
  return {
    startedAt,
    stop: () =>
      new Promise((resolve, reject) => {
        recorder.onstop = async () => {
          stream.getTracks().forEach((track) => track.stop());
          try {
            await writes;
            resolve(await finishRecording(recording.uuid));
          } catch (error) {
            reject(error);
          } finally {
            releaseLock();
          }
        };
        recorder.stop();
      }),
  };
}

/** Turn a recording's kept chunks into one audio item, then drop the chunks. */
export async function finishRecording(uuid, { recovered = false } = {}) {
  const recording = await db.get("recordings", uuid);
  if (!recording) return null;
  const chunks = await db.transaction("chunks", "readonly", (s) =>
    db.done(s.chunks.getAll(chunkRange(uuid))),
  );
  const type = recording.mime.split(";")[0];
  const blob = new Blob(
    chunks.map((chunk) => chunk.blob),
    { type },
  );
  const forget = async (s) => {
    await db.done(s.chunks.delete(chunkRange(uuid)));
    await db.done(s.recordings.delete(uuid));
  };
  if (!blob.size) {
    await db.transaction(["chunks", "recordings"], "readwrite", forget);
    return null;
  }
  const started = new Date(recording.started_at);
  const seconds = Math.round((Date.now() - recording.started_at) / 1000);
  return addFile(
    recording.visit_uuid,
    blob,
    {
      kind: "audio",
      filename: `recording-${fileStamp(started)}.${extensionFor(type)}`,
      capturedAt: started,
      place: recording.place,
      device: recording.device,
      label: recovered ? "Recording (recovered after the app closed)" : `Recording, ${seconds} s`,
    },
    ["chunks", "recordings"],
    forget,
  );
}

/** Keep recordings that were cut off by a closed tab or a crash. */
export async function recoverRecordings() {
  for (const recording of await db.getAll("recordings")) {
    const visit = await db.get("visits", recording.visit_uuid);
    if (!visit) continue;
    const finish = () => finishRecording(recording.uuid, { recovered: true });
    if (navigator.locks) {
      // a recording still running in another tab holds its lock: leave it alone
      await navigator.locks.request(
        `fieldbook-recording-${recording.uuid}`,
        { ifAvailable: true },
        (lock) => (lock ? finish() : null),
      );
    } else {
      await finish();
    }
  }
}
