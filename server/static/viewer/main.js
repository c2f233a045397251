// The viewer's small JavaScript: each part starts only where its markup is on the page.

import { initCite } from './cite.js';
import { initLightbox } from './lightbox.js';
import { showLineFromHash } from './notes.js';
import { initPlayers, keepAudio, seekFromHash } from './player.js';
import { initStatus } from './status.js';

function enhance(root) {
  initCite(root);
  initPlayers(root);
}

function start() {
  enhance(document);
  initLightbox();
  initStatus(document, (oldBlock, newBlock) => {
    keepAudio(oldBlock, newBlock);
    // the new block is enhanced once it is in the page
    queueMicrotask(() => enhance(newBlock));
  });
  seekFromHash();
  showLineFromHash();
  window.addEventListener('hashchange', () => {
    seekFromHash();
    showLineFromHash();
  });
  document.documentElement.classList.add('js');
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start);
} else {
  start();
}
