// The citation panel: a selection in a transcript, a note or a photo becomes the citation
// of a new moment (on its visit) or a new finding (of the study), saved through the API.

import { api, ApiError } from './api.js';

let panel = null;
let chosen = null;

export function offerCitation(citation) {
  if (!panel) return;
  chosen = citation;
  panel.querySelector('[data-cite-empty]').hidden = true;
  panel.querySelector('[data-cite-chosen]').hidden = false;
  panel.querySelector('[data-cite-where]').textContent = citation.where;
  const quote = panel.querySelector('[data-cite-quote]');
  quote.textContent = citation.quote || '';
  quote.hidden = !citation.quote;
  panel.querySelector('[data-cite-submit]').disabled = false;
  // on narrow screens the panel rises as a sheet over the page while something is chosen
  panel.classList.add('is-offered');
  say('');
}

function clear() {
  chosen = null;
  panel.querySelector('[data-cite-empty]').hidden = false;
  panel.querySelector('[data-cite-chosen]').hidden = true;
  panel.querySelector('[data-cite-submit]').disabled = true;
}

function say(message, kind = 'info') {
  const status = panel.querySelector('[data-cite-status]');
  status.textContent = message;
  status.dataset.kind = kind;
}

function making() {
  const checked = panel.querySelector('input[name="make"]:checked');
  return checked ? checked.value : 'finding';
}

function showFields() {
  const make = making();
  panel.querySelectorAll('[data-make]').forEach((fields) => {
    fields.hidden = fields.dataset.make !== make;
  });
}

function optionalNumber(value) {
  return value === '' ? null : Number(value);
}

function citationBody() {
  const body = { evidence_id: chosen.evidenceId, quote: (chosen.quote || '').slice(0, 5000) };
  body.span = chosen.span || null;
  return body;
}

async function submit(event) {
  event.preventDefault();
  if (!chosen) {
    say('Choose what to cite first.', 'error');
    return;
  }
  const form = event.currentTarget;
  const data = new FormData(form);
  const make = making();
  const button = panel.querySelector('[data-cite-submit]');
  button.disabled = true;
  try {
    if (make === 'finding') {
      const title = String(data.get('title') || '').trim();
      if (!title) {
        say('Give the finding a title.', 'error');
        form.querySelector('[name="title"]').focus();
        return;
      }
      const finding = await api(panel.dataset.findingsUrl, {
        method: 'POST',
        body: {
          title,
          kind: data.get('kind'),
          severity: Number(data.get('severity')),
          body: String(data.get('body') || ''),
          citations: [citationBody()],
        },
      });
      announce(`Finding saved: “${finding.title}”.`, `${panel.dataset.findingsPage}#finding-${finding.id}`);
    } else {
      const what = String(data.get('what_happened') || '').trim();
      if (!what) {
        say('Say what happened.', 'error');
        form.querySelector('[name="what_happened"]').focus();
        return;
      }
      const moment = await api(`/api/v1/visits/${chosen.visitId}/moments`, {
        method: 'POST',
        body: {
          what_happened: what,
          stage: String(data.get('stage') || ''),
          sentiment: optionalNumber(String(data.get('sentiment') || '')),
          effort: optionalNumber(String(data.get('effort') || '')),
          offset_s: chosen.offset ?? null,
          citations: [citationBody()],
        },
      });
      const shown = showMoment(chosen.visitId, moment, chosen);
      announce(shown ? 'Moment saved and added to the visit’s moments.' : 'Moment saved.');
    }
    form.querySelectorAll('input[type="text"], textarea').forEach((field) => {
      field.value = '';
    });
    clear();
  } catch (error) {
    if (error instanceof ApiError) {
      say([error.message, ...error.details()].join(' '), 'error');
    } else {
      say('The server could not be reached; nothing was saved.', 'error');
    }
  } finally {
    button.disabled = !chosen;
  }
}

// Add a saved moment to its visit's list on this page, built as text (never as HTML).
function showMoment(visitId, moment, citation) {
  const holder = document.querySelector(`[data-moments-for="${CSS.escape(visitId)}"]`);
  if (!holder) return false;
  holder.querySelector('[data-no-moments]')?.remove();
  let list = holder.querySelector('ol.moments');
  if (!list) {
    list = document.createElement('ol');
    list.className = 'moments';
    holder.append(list);
  }
  const item = document.createElement('li');
  item.className = 'moment';
  const head = document.createElement('p');
  head.className = 'moment-head';
  if (moment.stage) {
    const stage = document.createElement('span');
    stage.className = 'badge stage';
    stage.textContent = moment.stage;
    head.append(stage);
  }
  const text = document.createElement('p');
  text.className = 'moment-text';
  text.textContent = moment.what_happened;
  item.append(head, text);
  if (citation.quote || citation.where) {
    const quote = document.createElement('blockquote');
    quote.className = 'quote';
    quote.textContent = citation.quote || citation.where;
    item.append(quote);
  }
  list.append(item);
  return true;
}

function announce(message, href) {
  const status = panel.querySelector('[data-cite-status]');
  status.textContent = message;
  status.dataset.kind = 'success';
  if (href) {
    const link = document.createElement('a');
    link.href = href;
    link.textContent = 'Open it';
    status.append(' ', link);
  }
}

// Whole notes and selected words of notes; the note's own text gives character offsets.
const noteTexts = new Map();

async function noteText(evidenceId) {
  if (!noteTexts.has(evidenceId)) {
    const item = await api(`/api/v1/evidence/${evidenceId}`);
    noteTexts.set(evidenceId, item.text || '');
  }
  return noteTexts.get(evidenceId);
}

async function offerNoteSelection(note) {
  const selection = window.getSelection();
  if (!selection || selection.isCollapsed) return;
  const body = note.querySelector('[data-note-body]');
  if (!body.contains(selection.anchorNode) || !body.contains(selection.focusNode)) return;
  const quote = selection.toString().trim();
  if (!quote) return;
  const citation = {
    evidenceId: note.dataset.evidenceId,
    visitId: note.dataset.visitId,
    span: null,
    quote,
    where: 'Note',
  };
  try {
    const text = await noteText(citation.evidenceId);
    const start = text.indexOf(quote);
    if (start >= 0) {
      citation.span = { type: 'text', start, end: start + quote.length };
      citation.where = `Note, characters ${start}–${start + quote.length}`;
    }
  } catch {
    // cite the whole note when its text cannot be read
  }
  offerCitation(citation);
}

export function initCite(root = document) {
  if (!panel) {
    panel = document.querySelector('[data-cite-panel]');
    if (!panel) return;
    panel.hidden = false;
    panel.querySelector('[data-cite-form]').addEventListener('submit', submit);
    panel.querySelector('[data-cite-clear]').addEventListener('click', () => {
      clear();
      say('');
      panel.classList.remove('is-offered');
    });
    panel.querySelectorAll('input[name="make"]').forEach((radio) => {
      radio.addEventListener('change', showFields);
    });
    showFields();
  }
  root.querySelectorAll('[data-note]').forEach((note) => {
    if (note.dataset.citeReady) return;
    note.dataset.citeReady = '1';
    note.addEventListener('mouseup', () => offerNoteSelection(note));
    note.querySelector('[data-cite-whole]')?.addEventListener('click', () => {
      offerCitation({
        evidenceId: note.dataset.evidenceId,
        visitId: note.dataset.visitId,
        span: null,
        quote: '',
        where: 'The whole note',
      });
      focusPanel();
    });
  });
}

export function focusPanel() {
  const first = panel && panel.querySelector('#cite-title, #cite-what');
  if (first) first.focus();
}
