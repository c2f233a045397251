// The visit screen: capture photos, audio, moments and notes, answer the checklist,
// submit. What is captured is shown with its outbox state as it goes.

import * as db from "./db.js";
import * as recorder from "./recorder.js";
import * as visits from "./visits.js";
import { loadPlan, placeSection, scenarioSection } from "./assignments.js";
import { currentPlace, fileNameFor, stopWatchingPlace, watchPlace } from "./capture.js";
import { KIND_NAMES, itemRow } from "./items.js";
import { announce, ask, back, draw, formatDuration, formatTime, h, replaceContent } from "./ui.js";

function checklistForm(study, visit) {
  const questions = study?.checklist || [];
  if (!questions.length) return h("p", null, "This study has no checklist.");
  const form = h("form", { id: "checklist", class: "stack" });
  const answers = { ...visit.checklist_answers };
  const disabled = visit.status !== "open";
  for (const question of questions) {
    const id = `q-${question.key}`;
    const current = answers[question.key];
    if (question.kind === "text") {
      form.append(
        h("label", { for: id }, question.question),
        h("textarea", { id, name: question.key, rows: "3", disabled, value: current ?? "" }),
      );
      continue;
    }
    const choices =
      question.kind === "yes_no"
        ? [
            ["yes", "Yes", current === true],
            ["no", "No", current === false],
          ]
        : [1, 2, 3, 4, 5].map((n) => [String(n), String(n), current === n]);
    form.append(
      h(
        "fieldset",
        { class: `choices choices-${question.kind}` },
        h("legend", null, question.question),
        question.kind === "scale"
          ? h("p", { class: "hint" }, "1 = very poor, 5 = excellent")
          : null,
        choices.map(([value, text, checked]) =>
          h(
            "label",
            { class: "choice" },
            h("input", { type: "radio", name: question.key, value, checked, disabled }),
            h("span", null, text),
          ),
        ),
      ),
    );
  }
  const saved = h(
    "p",
    { class: "hint", role: "status" },
    "Answers are kept on the phone as you go and sent with the visit.",
  );
  form.addEventListener("change", async () => {
    const values = {};
    for (const question of questions) {
      const raw = new FormData(form).get(question.key);
      if (raw === null || raw === "") continue;
      if (question.kind === "yes_no") values[question.key] = raw === "yes";
      else if (question.kind === "scale") values[question.key] = Number(raw);
      else values[question.key] = String(raw);
    }
    await visits.saveAnswers(visit.uuid, values);
    visit.checklist_answers = values;
    saved.textContent = `Answers saved on the phone (${Object.keys(values).length} of ${questions.length}).`;
  });
  return [form, saved];
}

export async function visitScreen({ go, id }) {
  let record = await db.get("visits", id);
  if (!record) {
    draw(
      "Visit not found",
      back("#/", "Assignments"),
      h("p", null, "This visit is not on this phone."),
    );
    return null;
  }
  const current = await loadPlan();
  const study = current.studies.find((s) => s.id === record.study_id);
  const assignmentRecord = current.assignments.find((a) => a.id === record.assignment_id);
  const target = current.targets[record.target_id];
  const open = record.status === "open";

  const captured = h("ul", { class: "items", id: "visit-items" });
  const capturedTitle = h("h2", { id: "captured-title" }, "Captured");
  const refresh = async () => {
    record = await db.get("visits", id);
    const signedOut = Boolean(await db.setting("auth_problem"));
    const items = (await db.byIndex("items", "visit_uuid", id))
      .filter((item) => item.type === "file" || item.type === "note")
      .sort((a, b) => a.seq - b.seq);
    capturedTitle.textContent = `Captured (${items.length})`;
    replaceContent(
      captured,
      items.length
        ? items.map((item) => itemRow(item, record, items, signedOut))
        : h("li", { class: "muted" }, "Nothing yet."),
    );
  };

  const capture = open ? captureSection(record, study, refresh) : null;
  const submit = h(
    "button",
    { type: "button", class: "primary", id: "submit-visit" },
    "Finish and submit visit",
  );
  submit.addEventListener("click", async () => {
    if (capture?.recording()) {
      announce("Stop the recording before you submit.");
      document.getElementById("stop-recording").focus();
      return;
    }
    const unanswered = (study?.checklist || []).filter(
      (q) => !(q.key in (record.checklist_answers || {})),
    ).length;
    const confirmed = await ask({
      title: "Submit this visit?",
      body: [
        "Nothing can be added to it afterwards. It is sent, with everything captured, as soon as there is a connection.",
        unanswered ? `${unanswered} checklist question(s) are unanswered.` : null,
      ].filter(Boolean),
      confirm: "Submit visit",
    });
    if (!confirmed) return;
    await visits.submitVisit(record.uuid);
    stopWatchingPlace();
    announce("Visit submitted on the phone. The outbox sends it.");
    go("#/outbox");
  });

  draw(
    record.title || "Visit",
    back("#/", "Assignments"),
    h(
      "p",
      { class: "muted" },
      `${study?.name || ""} · started ${formatTime(record.started_at)} · `,
      open ? "in progress" : "submitted on this phone",
    ),
    assignmentRecord || target
      ? h(
          "details",
          { class: "card" },
          h("summary", null, "Scenario and place"),
          scenarioSection(assignmentRecord),
          placeSection(target),
        )
      : null,
    capture?.element,
    h(
      "section",
      { class: "card", "aria-labelledby": "checklist-title" },
      h("h2", { id: "checklist-title" }, "Checklist"),
      checklistForm(study, record),
    ),
    h("section", { class: "card", "aria-labelledby": "captured-title" }, capturedTitle, captured),
    open
      ? h("div", { class: "actions" }, submit)
      : h("p", null, h("a", { href: "#/outbox" }, "See it in the outbox")),
  );
  await refresh();
  return {
    refresh,
    leave: () => {
      stopWatchingPlace();
      capture?.leave();
    },
  };
}

function fileInput(id, text, accept, capture, onFile) {
  const input = h("input", {
    type: "file",
    id,
    accept,
    class: "visually-hidden",
    capture: capture || null,
  });
  input.addEventListener("change", async () => {
    const files = [...input.files];
    input.value = "";
    for (const file of files) await onFile(file);
  });
  return [input, h("label", { for: id, class: "button" }, text)];
}

const PLACE_WORDS = {
  waiting: "Finding your location…",
  refused: "Location is not allowed: items are kept without a place.",
  unavailable: "No location on this phone: items are kept without a place.",
};

function captureSection(record, study, refresh) {
  const status = h("p", { class: "hint", role: "status", id: "capture-status" });
  const place = h("p", { class: "hint", id: "place-status" });
  watchPlace((state, fix) => {
    place.textContent =
      state === "found"
        ? `Location recorded with each item (±${Math.round(fix.accuracy_m)} m).`
        : PLACE_WORDS[state];
  });
  const keep = async (work, message) => {
    try {
      await work();
      status.textContent = message;
      announce(message);
      await refresh();
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
    }
  };
  const addPicture = (kind) => (file) =>
    keep(async () => {
      const capturedAt = new Date();
      await visits.addFile(record.uuid, file, {
        kind,
        filename: fileNameFor(file, kind, capturedAt),
        capturedAt,
        place: currentPlace(),
        label: KIND_NAMES[kind],
      });
    }, `${KIND_NAMES[kind]} saved on the phone.`);

  // audio
  const recordButton = h("button", { type: "button", id: "record-audio" }, "Record audio");
  const timer = h(
    "span",
    { class: "timer", id: "recording-timer", role: "timer", "aria-label": "Recording time" },
    "00:00",
  );
  const stopButton = h(
    "button",
    { type: "button", class: "danger", id: "stop-recording" },
    "Stop recording",
  );
  const panel = h(
    "div",
    { class: "recording", id: "recording-panel", hidden: true },
    h("p", null, h("span", { class: "dot", "aria-hidden": "true" }), " Recording ", timer),
    stopButton,
  );
  let active = null;
  let ticker = null;
  recordButton.addEventListener("click", async () => {
    const consent =
      study?.consent_text?.trim() || "Make sure you may record here before you start.";
    const agreed = await ask({
      title: "Before you record",
      body: [consent],
      confirm: "I have consent: record",
    });
    if (!agreed) return;
    try {
      active = await recorder.startRecording(record);
    } catch (error) {
      status.textContent = `Cannot record: ${error.message}`;
      return;
    }
    recordButton.hidden = true;
    panel.hidden = false;
    announce("Recording started.");
    ticker = setInterval(() => {
      timer.textContent = formatDuration(Date.now() - active.startedAt.getTime());
    }, 250);
    stopButton.focus();
  });
  const stopRecording = () =>
    keep(async () => {
      if (!active) return;
      const recording = active;
      active = null;
      clearInterval(ticker);
      stopButton.disabled = true;
      try {
        const item = await recording.stop();
        if (!item) throw new Error("nothing was recorded");
      } finally {
        stopButton.disabled = false;
        panel.hidden = true;
        recordButton.hidden = false;
        timer.textContent = "00:00";
        if (recordButton.isConnected) recordButton.focus();
      }
    }, "Recording saved on the phone.");
  stopButton.addEventListener("click", stopRecording);

  // moments and notes
  const momentLabel = h("input", {
    id: "moment-label",
    name: "label",
    maxlength: "200",
    autocomplete: "off",
  });
  const momentForm = h(
    "form",
    { class: "stack", id: "moment-form" },
    h("label", { for: "moment-label" }, "Moment (what happened, optional)"),
    momentLabel,
    h("button", { type: "submit" }, "Mark moment"),
  );
  momentForm.addEventListener("submit", (event) => {
    event.preventDefault();
    // the time is taken at the tap, before anything else can delay it
    const label = momentLabel.value;
    const stamped = visits.markMoment(record, label);
    keep(async () => {
      await stamped;
      momentLabel.value = "";
    }, "Moment marked.");
  });
  const noteText = h("textarea", { id: "note-text", name: "text", rows: "4" });
  const noteForm = h(
    "form",
    { class: "stack", id: "note-form" },
    h("label", { for: "note-text" }, "Note"),
    noteText,
    h("button", { type: "submit" }, "Save note"),
  );
  noteForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!noteText.value.trim()) {
      status.textContent = "Write something first.";
      noteText.focus();
      return;
    }
    keep(async () => {
      await visits.addNote(record, noteText.value);
      noteText.value = "";
    }, "Note saved on the phone.");
  });

  const element = h(
    "section",
    { class: "card", "aria-labelledby": "capture-title" },
    h("h2", { id: "capture-title" }, "Capture"),
    h(
      "div",
      { class: "actions capture-actions" },
      fileInput("photo-input", "Take photo", "image/*", "environment", addPicture("photo")),
      record.channel === "web"
        ? fileInput("screenshot-input", "Add screenshot", "image/*", null, addPicture("screenshot"))
        : null,
      recorder.canRecord() ? recordButton : null,
    ),
    panel,
    place,
    momentForm,
    noteForm,
    status,
  );
  // leaving the screen ends a recording properly rather than leaving the microphone on
  return { element, recording: () => active !== null, leave: stopRecording };
}
