// The part of tus 1.0 the outbox needs: creation, HEAD for the offset, PATCH in
// chunks with a per-chunk sha256 (checksum extension). Resuming, retrying and
// remembering the upload URL are the outbox's job; this module only speaks HTTP.

import { API, ApiError, NetworkError, authHeaders, errorFrom, request } from "./api.js";

export const TUS_VERSION = "1.0.0";
// small enough that a dropped connection on a weak network costs little, large
// enough that a photo takes a handful of requests
export const CHUNK_BYTES = 1024 * 1024;

function base64(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Encode Upload-Metadata: `key base64(utf-8 value)` pairs; empty values are left out. */
export function encodeMetadata(metadata) {
  return Object.entries(metadata)
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([key, value]) => `${key} ${base64(new TextEncoder().encode(String(value)))}`)
    .join(",");
}

function progressOf(headers) {
  const evidenceId = headers.get("Fieldbook-Evidence-Id");
  return { offset: Number(headers.get("Upload-Offset")), evidenceId: evidenceId || null };
}

/** Create an upload of `length` bytes; resolve with its absolute URL and offset. */
export async function create(length, metadata) {
  const response = await request("POST", "/uploads", {
    headers: {
      "Tus-Resumable": TUS_VERSION,
      "Upload-Length": String(length),
      "Upload-Metadata": encodeMetadata(metadata),
    },
  });
  const location = response.headers.get("Location");
  if (!location) throw new ApiError(response.status, { message: "The server sent no upload URL." });
  return { url: new URL(location, window.location.href).href, ...progressOf(response.headers) };
}

/** Ask how many bytes of an upload the server holds (and its evidence id once complete). */
export async function head(url) {
  const response = await request("HEAD", url, { headers: { "Tus-Resumable": TUS_VERSION } });
  return progressOf(response.headers);
}

async function chunkChecksum(chunk) {
  const digest = await crypto.subtle.digest("SHA-256", await chunk.arrayBuffer());
  return `sha256 ${base64(digest)}`;
}

/**
 * PATCH one chunk at `offset`; resolve with the new offset (and the evidence id when
 * it was the last chunk). XHR rather than fetch: only XHR reports upload progress.
 */
export async function patch(url, offset, chunk, onProgress) {
  const checksum = await chunkChecksum(chunk);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PATCH", url.startsWith("http") ? url : API + url);
    const headers = {
      ...authHeaders(),
      "Tus-Resumable": TUS_VERSION,
      "Upload-Offset": String(offset),
      "Upload-Checksum": checksum,
      "Content-Type": "application/offset+octet-stream",
    };
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve({
          offset: Number(xhr.getResponseHeader("Upload-Offset")),
          evidenceId: xhr.getResponseHeader("Fieldbook-Evidence-Id") || null,
        });
      } else {
        reject(errorFrom(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () => reject(new NetworkError());
    xhr.onabort = () => reject(new NetworkError("The upload was interrupted."));
    xhr.ontimeout = () => reject(new NetworkError("The server took too long to answer."));
    xhr.send(chunk);
  });
}
