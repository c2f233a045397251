// Processing and transcription status that updates without a reload: items still being
// worked on ask the jobs endpoint, and once their jobs are done their block is rendered
// again by the server and swapped in.

import { api } from './api.js';

const NAMES = { 'evidence.process': 'Processing', 'transcription.transcribe': 'Transcribing' };
const RUNNING = new Set(['queued', 'running']);
const FIRST_DELAY_MS = 1000;
const LONGEST_DELAY_MS = 10000;
const watched = new WeakSet();

function wait(ms) {
  return new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
}

function describe(jobs) {
  const active = jobs.find((job) => RUNNING.has(job.status));
  if (active) {
    const name = NAMES[active.kind] || active.kind;
    if (active.status === 'queued') return { text: `${name}: queued`, progress: null };
    return { text: `${name} ${Math.round(100 * (active.progress || 0))}%`, progress: active.progress || 0 };
  }
  const failed = jobs.filter((job) => job.status === 'failed');
  if (failed.length) return { text: `${NAMES[failed[failed.length - 1].kind] || 'Work'} failed`, progress: null };
  return { text: 'Ready', progress: 1 };
}

async function swapIn(status, onSwap) {
  const block = status.closest('[data-evidence-block]');
  const response = await fetch(status.dataset.blockUrl, { credentials: 'same-origin' });
  if (!response.ok || !block) return false;
  const parsed = new DOMParser().parseFromString(await response.text(), 'text/html');
  const fresh = parsed.querySelector('[data-evidence-block]');
  if (!fresh) return false;
  const adopted = document.importNode(fresh, true);
  onSwap(block, adopted);
  block.replaceWith(adopted);
  initStatus(adopted, onSwap);
  return true;
}

async function watch(status, onSwap) {
  let delay = FIRST_DELAY_MS;
  const text = status.querySelector('[data-status-text]');
  const bar = status.querySelector('[data-status-progress]');
  while (status.isConnected) {
    await wait(delay);
    delay = Math.min(LONGEST_DELAY_MS, delay * 1.5);
    let jobs;
    try {
      jobs = await api(status.dataset.jobsUrl);
    } catch {
      continue;
    }
    const now = describe(jobs);
    text.textContent = now.text;
    if (bar) {
      if (now.progress === null) bar.removeAttribute('value');
      else bar.value = now.progress;
    }
    if (jobs.length && !jobs.some((job) => RUNNING.has(job.status))) {
      // the server decides whether more work follows; the new block watches it if so
      if (await swapIn(status, onSwap)) return;
    }
  }
}

export function initStatus(root = document, onSwap = () => {}) {
  root.querySelectorAll('[data-pending][data-jobs-url]').forEach((status) => {
    if (watched.has(status)) return;
    watched.add(status);
    watch(status, onSwap);
  });
}
