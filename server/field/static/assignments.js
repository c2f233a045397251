// The researcher's plan: studies, assignments with their scenario, target and
// checklist. Kept on the phone so that it can be read offline.

import * as api from "./api.js";
import * as db from "./db.js";
import * as visits from "./visits.js";
import { back, draw, formatClock, formatTime, h, safeWebUrl } from "./ui.js";

/** The studies, assignments and targets kept on the phone. */
export function loadPlan() {
  return db.setting("plan", { studies: [], assignments: [], targets: {}, fetched_at: null });
}

/** Fetch studies, assignments and their targets; keep them for offline use. */
export async function refreshPlan() {
  const studies = await api.listAll("/studies");
  const assignments = [];
  for (const study of studies)
    assignments.push(...(await api.listAll(`/studies/${study.id}/assignments`)));
  const targets = {};
  for (const id of new Set(assignments.map((a) => a.target_id).filter(Boolean))) {
    targets[id] = await api.call("GET", `/targets/${id}`);
  }
  const value = { studies, assignments, targets, fetched_at: new Date().toISOString() };
  await db.setSetting("plan", value);
  return value;
}

function windowText(assignment) {
  if (!assignment.window_start && !assignment.window_end) return "Any time";
  return `${formatTime(assignment.window_start) || "…"} – ${formatTime(assignment.window_end) || "…"}`;
}

export async function homeScreen({ session, go }) {
  const current = await loadPlan();
  const openVisits = (await db.getAll("visits")).filter(
    (visit) => visit.status === "open" && visit.user_id === session.user.id,
  );
  const studies = current.studies.map((study) => {
    const own = current.assignments.filter((a) => a.study_id === study.id);
    const start = async (channel) => {
      const visit = await visits.startVisit({ session, study, channel });
      go(`#/visit/${visit.uuid}`);
    };
    return h(
      "section",
      { class: "card", "aria-labelledby": `study-${study.id}` },
      h("h2", { id: `study-${study.id}` }, study.name),
      h("p", { class: "muted" }, study.company),
      own.length
        ? h(
            "ul",
            { class: "links" },
            own.map((assignment) => {
              const target = current.targets[assignment.target_id];
              return h(
                "li",
                null,
                h(
                  "a",
                  { class: "assignment", href: `#/assignment/${assignment.id}` },
                  h("span", { class: "badge" }, visits.channelName(assignment.channel)),
                  h("strong", null, target?.name || "No target"),
                  h("span", { class: "muted" }, windowText(assignment)),
                ),
              );
            }),
          )
        : h("p", null, "No assignments for you in this study."),
      h(
        "details",
        null,
        h("summary", null, "Start a visit without an assignment"),
        h(
          "div",
          { class: "actions" },
          (study.channels?.length ? study.channels : ["in_person", "phone", "web"]).map((channel) =>
            h(
              "button",
              { type: "button", onclick: () => start(channel) },
              visits.channelName(channel),
            ),
          ),
        ),
      ),
    );
  });
  const refresh = h("button", { type: "button", class: "secondary" }, "Refresh assignments");
  const status = h(
    "p",
    { class: "muted", role: "status" },
    current.fetched_at ? `Updated ${formatTime(current.fetched_at)}.` : "Not loaded yet.",
  );
  refresh.addEventListener("click", async () => {
    status.textContent = "Updating…";
    try {
      await refreshPlan();
      homeScreen({ session, go });
    } catch (error) {
      status.textContent =
        error instanceof api.NetworkError
          ? "Offline: showing the copy on this phone."
          : error.message;
    }
  });
  draw(
    "Assignments",
    h("p", { class: "muted" }, `Signed in as ${session.user.name || session.user.email}.`),
    openVisits.length
      ? h(
          "section",
          { class: "card", "aria-labelledby": "open-visits" },
          h("h2", { id: "open-visits" }, "Visits in progress"),
          h(
            "ul",
            { class: "links" },
            openVisits.map((visit) =>
              h(
                "li",
                null,
                h(
                  "a",
                  { href: `#/visit/${visit.uuid}` },
                  `${visit.title} (started ${formatClock(visit.started_at)})`,
                ),
              ),
            ),
          ),
        )
      : null,
    studies.length ? studies : h("p", null, "You are not a member of any study yet."),
    h("div", { class: "actions" }, refresh),
    status,
  );
}

export function placeSection(target) {
  if (!target) return null;
  const phone = target.phone ? target.phone.replace(/[^+\d]/g, "") : "";
  const web = safeWebUrl(target.url);
  const hasPoint = typeof target.latitude === "number" && typeof target.longitude === "number";
  const map = hasPoint
    ? `https://www.openstreetmap.org/?mlat=${target.latitude}&mlon=${target.longitude}#map=18/${target.latitude}/${target.longitude}`
    : null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "place-title" },
    h("h2", { id: "place-title" }, target.name),
    target.address ? h("p", { class: "address" }, target.address) : null,
    h(
      "ul",
      { class: "links" },
      map
        ? h(
            "li",
            null,
            h(
              "a",
              { href: map, target: "_blank", rel: "noopener", class: "map-link" },
              "Open the map",
            ),
          )
        : null,
      phone
        ? h("li", null, h("a", { href: `tel:${phone}`, class: "tel-link" }, `Call ${target.phone}`))
        : null,
      web
        ? h(
            "li",
            null,
            h(
              "a",
              { href: web, target: "_blank", rel: "noopener", class: "web-link" },
              "Open the website",
            ),
          )
        : null,
    ),
  );
}

function checklistPreview(study) {
  if (!study?.checklist?.length) return null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "checklist-preview" },
    h("h2", { id: "checklist-preview" }, "Checklist"),
    h(
      "ol",
      null,
      study.checklist.map((question) => h("li", null, question.question)),
    ),
  );
}

export function scenarioSection(assignment) {
  if (!assignment?.scenario) return null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "scenario-title" },
    h("h2", { id: "scenario-title" }, "Scenario"),
    h("p", { class: "script" }, assignment.scenario),
  );
}

export async function assignmentScreen({ session, go, id }) {
  const current = await loadPlan();
  const found = current.assignments.find((a) => a.id === id);
  if (!found) {
    draw(
      "Assignment not found",
      back("#/", "Assignments"),
      h("p", null, "It may have been withdrawn. Refresh the assignments."),
    );
    return;
  }
  const study = current.studies.find((s) => s.id === found.study_id);
  const target = current.targets[found.target_id];
  const open = (await db.getAll("visits")).find(
    (visit) =>
      visit.assignment_id === found.id &&
      visit.status === "open" &&
      visit.user_id === session.user.id,
  );
  const startButton = h(
    "button",
    { type: "button", class: "primary", id: "start-visit" },
    open ? "Continue the visit" : "Start visit",
  );
  startButton.addEventListener("click", async () => {
    if (open) return go(`#/visit/${open.uuid}`);
    startButton.disabled = true;
    const visit = await visits.startVisit({
      session,
      study,
      channel: found.channel,
      assignment: found,
      target,
    });
    go(`#/visit/${visit.uuid}`);
  });
  draw(
    target?.name || "Assignment",
    back("#/", "Assignments"),
    h(
      "p",
      null,
      h("span", { class: "badge" }, visits.channelName(found.channel)),
      ` ${study?.name || ""} · ${windowText(found)}`,
    ),
    scenarioSection(found),
    placeSection(target),
    checklistPreview(study),
    h("div", { class: "actions" }, startButton),
  );
}
