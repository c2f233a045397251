// Fieldbook's phone capture app: start-up, the screen router and the header.
//
// Start-up order matters: recordings cut off by a closed tab are kept first, then
// the outbox resumes, then the screen is drawn. The service worker is registered
// last so that it never delays the first screen.

import * as api from "./api.js";
import * as db from "./db.js";
import * as outbox from "./outbox.js";
import * as recorder from "./recorder.js";
import { assignmentScreen, homeScreen, refreshPlan } from "./assignments.js";
import { showProgress } from "./items.js";
import { outboxScreen } from "./outbox-screen.js";
import { signIn } from "./signin.js";
import { visitScreen } from "./visit-screen.js";

const SIGNED_OUT =
  "Your sign-in on this phone is no longer valid. Nothing was lost: the outbox waits for you.";

let session = null;
let screen = null; // what the open screen returned: { refresh, leave }

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  screen?.leave?.();
  screen = null;
  const hash = location.hash || "#/";
  if (!session || (await db.setting("auth_problem"))) {
    await signIn({ onSignedIn });
    return;
  }
  const [, name, id] = hash.split("/");
  const context = { session, go, id, onSignOut };
  if (name === "assignment" && id) screen = await assignmentScreen(context);
  else if (name === "visit" && id) screen = await visitScreen(context);
  else if (name === "outbox") screen = await outboxScreen(context);
  else screen = await homeScreen(context);
}

async function onSignedIn(value) {
  session = value;
  api.setToken(session.token);
  showBanner(null);
  outbox.setSession(session);
  try {
    await refreshPlan();
  } catch (error) {
    console.warn("Assignments not loaded:", error);
  }
  go("#/");
}

async function onSignOut() {
  const previous = session;
  session = null;
  outbox.setSession(null);
  try {
    // revoke the token on the server too, so a lost phone's copy is useless
    await api.call("DELETE", `/tokens/${previous.token_id}`);
  } catch {
    // offline: the token stays valid until revoked from the account page
  }
  api.setToken(null);
  await db.setSetting("session", null);
  go("#/");
}

function showBanner(message) {
  const banner = document.getElementById("banner");
  banner.replaceChildren();
  banner.hidden = !message;
  if (message) {
    const link = document.createElement("a");
    link.href = "#/";
    link.textContent = "Sign in again";
    banner.append(`${message} `, link);
  }
}

async function updateHeader() {
  const network = document.getElementById("network");
  network.textContent = navigator.onLine ? "" : "Offline";
  network.classList.toggle("offline", !navigator.onLine);
  const pending = (await db.getAll("items")).filter((item) => item.state !== "stored").length;
  const count = document.getElementById("outbox-count");
  count.textContent = pending ? String(pending) : "";
  document
    .getElementById("outbox-link")
    .setAttribute("aria-label", pending ? `Outbox, ${pending} not sent` : "Outbox");
}

// Redraw the changing parts of the open screen, at most every 150 ms.
let redrawTimer = null;
function scheduleRedraw() {
  if (redrawTimer) return;
  redrawTimer = setTimeout(async () => {
    redrawTimer = null;
    await updateHeader();
    await screen?.refresh?.();
  }, 150);
}

async function start() {
  session = await db.setting("session");
  if (session) api.setToken(session.token);
  await recorder.recoverRecordings();
  await outbox.start();

  outbox.events.addEventListener("change", scheduleRedraw);
  outbox.events.addEventListener("progress", (event) => showProgress(event.detail));
  outbox.events.addEventListener("auth", () => {
    showBanner(SIGNED_OUT);
    scheduleRedraw();
  });
  window.addEventListener("online", scheduleRedraw);
  window.addEventListener("offline", scheduleRedraw);
  window.addEventListener("hashchange", route);

  const problem = await db.setting("auth_problem");
  if (problem) showBanner(SIGNED_OUT);
  await route();
  await updateHeader();
  if (session && !problem) {
    outbox.setSession(session);
    if (navigator.onLine) {
      refreshPlan()
        .then(() => (location.hash || "#/") === "#/" && route())
        .catch((error) => {
          if (api.isAuthError(error)) {
            db.setSetting("auth_problem", error.message).then(() => {
              showBanner(SIGNED_OUT);
              route();
            });
          }
        });
    }
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(new URL("../sw.js", import.meta.url), {
      scope: new URL("../", import.meta.url).pathname,
    });
  }
}

start().catch((error) => {
  const main = document.getElementById("main");
  main.textContent = `Fieldbook could not start: ${error.message}`;
  console.error(error);
});
