// The outbox screen: every item not yet confirmed by the server, grouped by visit,
// with its state; "Send now", big files on mobile data, clearing sent visits.

import * as db from "./db.js";
import * as outbox from "./outbox.js";
import { itemRow } from "./items.js";
import { ask, draw, formatBytes, formatTime, h, replaceContent } from "./ui.js";

export async function outboxScreen({ session, onSignOut }) {
  const list = h("div", { id: "outbox-list" });
  const summary = h("p", { id: "outbox-summary", role: "status" });
  const metered = h("div", { id: "metered" });
  const storage = h("p", { class: "hint" });

  const refresh = async () => {
    const [items, allVisits, allowMetered, signedOut] = await Promise.all([
      db.getAll("items"),
      db.getAll("visits"),
      db.setting("allow_metered", false),
      db.setting("auth_problem"),
    ]);
    const mine = allVisits
      .filter((v) => v.user_id === session.user.id)
      .sort((a, b) => (a.started_at < b.started_at ? 1 : -1));
    const counts = {};
    for (const item of items) counts[item.state] = (counts[item.state] || 0) + 1;
    const parts = ["waiting", "uploading", "held", "failed", "stored"]
      .filter((s) => counts[s])
      .map((s) => `${counts[s]} ${s}`);
    summary.textContent = parts.length
      ? `${parts.join(" · ")}.${navigator.onLine ? "" : " Offline: items are sent when the connection returns."}`
      : "Nothing to send. What you capture appears here until the server confirms it.";
    const reason = outbox.meteredReason();
    const held = items.some((item) => item.state === "held");
    replaceContent(
      metered,
      held && !allowMetered
        ? h(
            "div",
            { class: "notice" },
            h(
              "p",
              null,
              `Big files wait for Wi-Fi because ${reason || "the connection is metered"}.`,
            ),
            h(
              "button",
              {
                type: "button",
                id: "allow-metered",
                dataset: { focusKey: "allow-metered" },
                onclick: () => outbox.allowMetered(true),
              },
              "Send them over mobile data",
            ),
          )
        : allowMetered && reason
          ? h(
              "p",
              { class: "hint" },
              "Big files are sent over mobile data. ",
              h(
                "button",
                {
                  type: "button",
                  class: "link",
                  dataset: { focusKey: "wait-wifi" },
                  onclick: () => outbox.allowMetered(false),
                },
                "Wait for Wi-Fi instead",
              ),
            )
          : null,
    );
    replaceContent(
      list,
      mine
        .map((visitRecord) => {
          const own = items
            .filter((item) => item.visit_uuid === visitRecord.uuid)
            .sort((a, b) => a.seq - b.seq);
          if (!own.length) return null;
          return h(
            "section",
            { class: "card", "aria-label": visitRecord.title },
            h("h2", null, visitRecord.title || "Visit"),
            h(
              "p",
              { class: "muted" },
              `${visitRecord.study_name || ""} · started ${formatTime(visitRecord.started_at)}`,
            ),
            h(
              "ul",
              { class: "items" },
              own.map((item) => itemRow(item, visitRecord, own, signedOut)),
            ),
          );
        })
        .filter(Boolean),
    );
    const estimate = await navigator.storage?.estimate?.();
    if (estimate?.quota)
      storage.textContent = `Using ${formatBytes(estimate.usage)} of ${formatBytes(estimate.quota)} on this phone.`;
  };

  const signOut = h(
    "button",
    { type: "button", class: "link", id: "sign-out" },
    "Sign out of this phone",
  );
  signOut.addEventListener("click", async () => {
    const pending = (await db.getAll("items")).filter((item) => item.state !== "stored").length;
    const confirmed = await ask({
      title: "Sign out?",
      body: pending
        ? [
            `${pending} item(s) are not sent yet. They stay on this phone and are sent when you sign in again.`,
          ]
        : ["You need a connection to sign in again."],
      confirm: "Sign out",
    });
    if (confirmed) await onSignOut();
  });

  draw(
    "Outbox",
    summary,
    metered,
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        { type: "button", class: "primary", id: "send-now", onclick: () => outbox.sendNow() },
        "Send now",
      ),
      h(
        "button",
        { type: "button", class: "secondary", id: "clear-sent", onclick: () => outbox.clearSent() },
        "Clear sent visits",
      ),
    ),
    list,
    storage,
    h("p", null, signOut),
  );
  await refresh();
  return { refresh };
}
