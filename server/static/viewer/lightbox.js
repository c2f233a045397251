// Photos open large in one reusable dialog (display copies only); arrow keys move between
// the page's photos, and a drag across the picture marks a region to cite.

import { offerCitation, focusPanel } from './cite.js';

let dialog = null;
let photos = [];
let index = 0;
let region = null;
let drag = null;
let listening = false;

function element(tag, attributes = {}, text = '') {
  const node = document.createElement(tag);
  Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
  if (text) node.textContent = text;
  return node;
}

function build() {
  dialog = element('dialog', { class: 'lightbox', 'aria-labelledby': 'lightbox-caption' });
  const head = element('div', { class: 'lightbox-head' });
  head.append(
    element('p', { id: 'lightbox-caption', class: 'lightbox-caption' }),
    element('button', { type: 'button', class: 'secondary', 'data-lightbox-close': '' }, 'Close'),
  );
  const stage = element('div', { class: 'lightbox-stage', 'data-lightbox-stage': '' });
  const frame = element('div', { class: 'lightbox-frame' });
  frame.append(
    element('img', { alt: '', draggable: 'false', 'data-lightbox-image': '' }),
    element('div', { class: 'region-box', hidden: '', 'data-region-box': '' }),
  );
  stage.append(frame);
  const tools = element('div', { class: 'lightbox-tools' });
  tools.append(
    element('button', { type: 'button', class: 'secondary', 'data-lightbox-prev': '' }, 'Previous'),
    element('button', { type: 'button', class: 'secondary', 'data-lightbox-next': '' }, 'Next'),
  );
  if (document.querySelector('[data-cite-panel]')) {
    tools.append(
      element('span', { class: 'muted lightbox-hint' }, 'Drag across the photo to mark a region.'),
      element('button', { type: 'button', disabled: '', 'data-cite-region': '' }, 'Cite the marked region'),
      element('button', { type: 'button', class: 'secondary', 'data-cite-photo': '' }, 'Cite the whole photo'),
    );
  }
  dialog.append(head, stage, tools);
  document.body.append(dialog);

  dialog.querySelector('[data-lightbox-close]').addEventListener('click', () => dialog.close());
  dialog.querySelector('[data-lightbox-prev]').addEventListener('click', () => show(index - 1));
  dialog.querySelector('[data-lightbox-next]').addEventListener('click', () => show(index + 1));
  dialog.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowLeft') show(index - 1);
    if (event.key === 'ArrowRight') show(index + 1);
  });
  dialog.querySelector('[data-cite-region]')?.addEventListener('click', () => cite(region));
  dialog.querySelector('[data-cite-photo]')?.addEventListener('click', () => {
    cite({ x: 0, y: 0, w: 1, h: 1 });
  });
  const image = dialog.querySelector('[data-lightbox-image]');
  image.addEventListener('pointerdown', startDrag);
  image.addEventListener('pointermove', moveDrag);
  image.addEventListener('pointerup', endDrag);
  image.addEventListener('pointercancel', () => {
    drag = null;
  });
}

function clamp(value) {
  return Math.min(1, Math.max(0, value));
}

function pointAt(event) {
  const box = event.currentTarget.getBoundingClientRect();
  return { x: clamp((event.clientX - box.left) / box.width), y: clamp((event.clientY - box.top) / box.height) };
}

function startDrag(event) {
  if (!dialog.querySelector('[data-cite-region]')) return;
  event.preventDefault();
  event.currentTarget.setPointerCapture(event.pointerId);
  drag = pointAt(event);
  drawRegion({ x: drag.x, y: drag.y, w: 0, h: 0 });
}

function moveDrag(event) {
  if (!drag) return;
  const point = pointAt(event);
  drawRegion({
    x: Math.min(drag.x, point.x),
    y: Math.min(drag.y, point.y),
    w: Math.abs(point.x - drag.x),
    h: Math.abs(point.y - drag.y),
  });
}

function endDrag(event) {
  if (!drag) return;
  moveDrag(event);
  drag = null;
  const big = region && region.w > 0.01 && region.h > 0.01;
  dialog.querySelector('[data-cite-region]').disabled = !big;
  if (!big) drawRegion(null);
}

function drawRegion(box) {
  region = box;
  const node = dialog.querySelector('[data-region-box]');
  node.hidden = !box;
  if (!box) return;
  // CSSOM, not a style attribute: the page's CSP allows no inline styles
  node.style.left = `${box.x * 100}%`;
  node.style.top = `${box.y * 100}%`;
  node.style.width = `${box.w * 100}%`;
  node.style.height = `${box.h * 100}%`;
}

function round(value) {
  return Math.round(value * 10000) / 10000;
}

function cite(box) {
  if (!box) return;
  const link = photos[index];
  const span = { type: 'region', x: round(box.x), y: round(box.y), w: round(box.w), h: round(box.h) };
  span.w = Math.min(span.w, round(1 - span.x));
  span.h = Math.min(span.h, round(1 - span.y));
  const whole = span.x === 0 && span.y === 0 && span.w === 1 && span.h === 1;
  offerCitation({
    evidenceId: link.dataset.evidenceId,
    visitId: link.dataset.visitId,
    span,
    quote: '',
    where: whole
      ? link.dataset.caption
      : `${link.dataset.caption}: region at ${Math.round(span.x * 100)}%, ${Math.round(span.y * 100)}%, `
        + `${Math.round(span.w * 100)}% × ${Math.round(span.h * 100)}%`,
  });
  dialog.close();
  focusPanel();
}

function show(at) {
  if (!photos.length) return;
  index = (at + photos.length) % photos.length;
  const link = photos[index];
  const image = dialog.querySelector('[data-lightbox-image]');
  image.src = link.href;
  image.alt = link.dataset.caption || 'Photo';
  dialog.querySelector('.lightbox-caption').textContent =
    `${link.dataset.caption || 'Photo'} (${index + 1} of ${photos.length})`;
  drawRegion(null);
  const button = dialog.querySelector('[data-cite-region]');
  if (button) button.disabled = true;
}

export function initLightbox() {
  if (listening) return;
  listening = true;
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[data-photo]');
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    if (!dialog) build();
    photos = [...document.querySelectorAll('a[data-photo]')];
    show(photos.indexOf(link));
    dialog.showModal();
  });
}
