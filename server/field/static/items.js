// How an outbox item is shown, on the visit screen and in the outbox: what it is,
// its state in words (waiting, uploading with a percentage, stored, failed with the
// reason, held), and its progress bar.

import * as outbox from "./outbox.js";
import { formatBytes, formatClock, h } from "./ui.js";

export const KIND_NAMES = {
  photo: "Photo",
  screenshot: "Screenshot",
  audio: "Audio",
  note: "Note",
};
const TYPE_NAMES = { visit: "Visit", details: "Answers", submit: "Submission" };

function itemName(item) {
  return item.type === "file" || item.type === "note"
    ? item.label === "Moment"
      ? "Moment"
      : KIND_NAMES[item.kind]
    : TYPE_NAMES[item.type];
}

/** What the phone is doing with an item, in words. */
function stateWords(item, visit, items, signedOut) {
  switch (item.state) {
    case "stored":
      return {
        chip: "Stored",
        reason:
          item.type === "file"
            ? "Confirmed by the server (sha256 matches)."
            : "Confirmed by the server.",
      };
    case "uploading":
      return {
        chip: item.type === "file" ? `Uploading ${percent(item, item.offset || 0)}%` : "Sending",
        reason: null,
      };
    case "held":
      return { chip: "Held", reason: item.reason };
    case "failed":
      return {
        chip: "Failed",
        reason:
          item.retry_at === null
            ? `${item.reason} It stays on the phone; tap “Try again” when it is fixed.`
            : `${item.reason} Retrying at ${new Date(item.retry_at).toLocaleTimeString()}.`,
      };
    default: {
      let reason = "Ready to send.";
      if (signedOut) reason = "Sends once you sign in again.";
      else if (!navigator.onLine) reason = "Offline: sends when the connection returns.";
      else if (item.type !== "visit" && !visit?.server_id)
        reason = "Waiting for the visit to reach the server.";
      else if (
        item.type === "submit" &&
        items.some((o) => o.uuid !== item.uuid && o.state !== "stored")
      ) {
        reason = "Waiting until everything else of the visit is stored.";
      }
      return { chip: "Waiting", reason };
    }
  }
}

function percent(item, sent) {
  return item.size ? Math.floor((100 * sent) / item.size) : 0;
}

/** One item as a list row; `signedOut` when the phone's token stopped working. */
export function itemRow(item, visit, items, signedOut = false) {
  const words = stateWords(item, visit, items, signedOut);
  const partly = item.type === "file" && item.state !== "stored" && item.offset > 0;
  const detail = [
    item.type === "note" ? item.text : item.filename,
    item.size && item.type === "file" ? formatBytes(item.size) : null,
    partly ? `${formatBytes(item.offset)} on the server` : null,
    item.captured_at ? formatClock(item.captured_at) : null,
  ]
    .filter(Boolean)
    .join(" · ");
  const bar =
    item.type === "file" && item.state === "uploading"
      ? h("progress", {
          class: "item-progress",
          max: "100",
          value: String(percent(item, item.offset || 0)),
          "aria-label": `Upload of ${item.filename}`,
        })
      : null;
  return h(
    "li",
    {
      class: `outbox-item state-${item.state}`,
      dataset: {
        uuid: item.uuid,
        state: item.state,
        type: item.type,
        kind: item.kind || item.type,
        sha256: item.sha256 || "",
      },
    },
    h(
      "div",
      { class: "item-head" },
      h("span", { class: "item-kind" }, itemName(item)),
      h("span", { class: `chip chip-${item.state}` }, words.chip),
    ),
    detail ? h("p", { class: "item-detail" }, detail) : null,
    bar,
    words.reason ? h("p", { class: "item-reason" }, words.reason) : null,
    item.state === "failed" && item.retry_at === null
      ? h(
          "button",
          {
            type: "button",
            class: "secondary",
            dataset: { focusKey: `retry-${item.uuid}` },
            onclick: () => outbox.retry(item.uuid),
          },
          "Try again",
        )
      : null,
  );
}

/** Move an upload's bar and percentage without redrawing the list. */
export function showProgress({ uuid, sent, total }) {
  const row = document.querySelector(`.outbox-item[data-uuid="${CSS.escape(uuid)}"]`);
  if (!row) return;
  const value = total ? Math.floor((100 * sent) / total) : 0;
  const chip = row.querySelector(".chip");
  if (chip && row.dataset.state === "uploading") chip.textContent = `Uploading ${value}%`;
  const bar = row.querySelector("progress");
  if (bar) bar.value = value;
}
