// What every captured item carries: a client UUID, a sha256 computed on the phone,
// the capture time with the phone's UTC offset, the place (when allowed) and the device.

/** A random UUID (crypto.randomUUID is missing on older iOS versions). */
export function newUuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Hex sha256 of bytes (an ArrayBuffer or a typed array). */
export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** ISO 8601 in the phone's local time with its UTC offset, e.g. 2026-05-04T14:02:11.250+02:00. */
export function isoLocal(date = new Date()) {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** HH:MM:SS on the phone's clock. */
export function clockTime(date = new Date()) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A compact stamp for generated file names, e.g. 20260504-140211. */
export function fileStamp(date = new Date()) {
  return (
    `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}` +
    `-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`
  );
}

/** A short description of this phone and browser for the evidence's device field. */
export function deviceDescription(deviceName) {
  return [deviceName, navigator.userAgent].filter(Boolean).join(" · ").slice(0, 200);
}

// --- place --------------------------------------------------------------------

// A fix older than this is not the place of a capture.
const FIX_MAX_AGE_MS = 2 * 60 * 1000;
let fix = null;
let watchId = null;
let placeState = "waiting";
let listener = null;

/**
 * Follow the phone's position while a visit is open, so that a capture takes the
 * latest fix at once instead of waiting for the GPS. `onChange(state, fix)` hears
 * "waiting", "found", "refused" or "unavailable", so the screen can say whether
 * places are being recorded. Nothing is recorded when the researcher does not allow it.
 */
export function watchPlace(onChange = null) {
  listener = onChange;
  if (!("geolocation" in navigator)) placeState = "unavailable";
  listener?.(placeState, fix);
  if (watchId !== null || !("geolocation" in navigator)) return;
  watchId = navigator.geolocation.watchPosition(
    (position) => {
      fix = {
        latitude: position.coords.latitude,
        longitude: position.coords.longitude,
        accuracy_m: position.coords.accuracy,
        at: position.timestamp,
      };
      placeState = "found";
      listener?.(placeState, fix);
    },
    (error) => {
      // refused or unavailable: captures go without a place
      placeState = error.code === error.PERMISSION_DENIED ? "refused" : "unavailable";
      listener?.(placeState, fix);
    },
    { enableHighAccuracy: true, maximumAge: 30_000, timeout: 60_000 },
  );
}

export function stopWatchingPlace() {
  if (watchId !== null) navigator.geolocation.clearWatch(watchId);
  watchId = null;
  listener = null;
  placeState = "waiting";
}

/** The current place, or nulls when there is no recent fix. */
export function currentPlace() {
  if (fix && Date.now() - fix.at <= FIX_MAX_AGE_MS) {
    const { latitude, longitude, accuracy_m } = fix;
    return { latitude, longitude, accuracy_m };
  }
  return { latitude: null, longitude: null, accuracy_m: null };
}

// --- files ----------------------------------------------------------------------

const EXTENSIONS = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/heic": "heic",
  "image/heif": "heif",
  "image/webp": "webp",
  "audio/webm": "webm",
  "audio/ogg": "ogg",
  "audio/mp4": "m4a",
  "audio/mpeg": "mp3",
  "audio/wav": "wav",
};

/** The extension for a MIME type (parameters such as codecs ignored). */
export function extensionFor(mime) {
  return EXTENSIONS[(mime || "").split(";")[0].trim()] || "bin";
}

/** Keep the phone's file name when it has one; the server checks it against the bytes. */
export function fileNameFor(file, prefix, date) {
  const name = (file.name || "").trim();
  if (name && name.includes(".")) return name.slice(-255);
  return `${prefix}-${fileStamp(date)}.${extensionFor(file.type)}`;
}
