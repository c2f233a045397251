// The call player: the transcript follows playback, a click on a line seeks there, the
// timeline bar shows where the call is, and selected words can be cited.

import { clock } from './format.js';
import { offerCitation } from './cite.js';

const players = new WeakMap();
const EARLY = 0.05; // a seek lands a hair before the line it aimed at

function elementOf(node) {
  return node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
}

class CallPlayer {
  constructor(el) {
    this.el = el;
    this.audio = el.querySelector('[data-audio]');
    this.list = el.querySelector('[data-transcript]');
    this.lines = this.list ? [...this.list.querySelectorAll('.segment')] : [];
    this.starts = this.lines.map((line) => Number(line.dataset.start));
    this.ends = this.lines.map((line) => Number(line.dataset.end));
    this.duration = Number(el.dataset.duration) || 0;
    this.playhead = el.querySelector('[data-playhead]');
    this.bar = el.querySelector('[data-call-bar] svg');
    this.current = -1;
    this.audio.addEventListener('timeupdate', () => this.follow());
    this.audio.addEventListener('seeked', () => this.follow());
    this.audio.addEventListener('loadedmetadata', () => {
      if (!this.duration && Number.isFinite(this.audio.duration)) this.duration = this.audio.duration;
    });
    el.addEventListener('click', (event) => this.onClick(event));
    if (this.bar) this.bar.addEventListener('click', (event) => this.onBarClick(event));
    if (this.list) {
      this.list.addEventListener('mouseup', () => this.offerSelection());
      this.list.addEventListener('keyup', (event) => {
        if (event.shiftKey) this.offerSelection();
      });
    }
  }

  onClick(event) {
    const target = event.target;
    // a line's time button plays from there; a click on the line's words only moves there
    const seeker = target.closest('[data-seek]');
    if (seeker && this.el.contains(seeker)) {
      this.seek(Number(seeker.dataset.seek), true);
      return;
    }
    if (target.closest('[data-cite-segment]')) {
      this.citeCurrent();
      return;
    }
    const line = target.closest('.segment');
    if (line && this.list && this.list.contains(line)) {
      const selection = window.getSelection();
      // a click that ends a selection is for citing, not for seeking
      if (selection && !selection.isCollapsed && this.list.contains(selection.anchorNode)) return;
      this.seek(Number(line.dataset.start), false);
    }
  }

  onBarClick(event) {
    const box = this.bar.getBoundingClientRect();
    if (!this.duration || box.width <= 0) return;
    this.seek(((event.clientX - box.left) / box.width) * this.duration, false);
  }

  // Seek to a second; a recording not loaded yet (preload="none") is loaded first.
  seek(seconds, play) {
    const audio = this.audio;
    const target = Math.max(0, seconds);
    if (audio.readyState >= HTMLMediaElement.HAVE_METADATA) {
      audio.currentTime = target;
    } else {
      audio.addEventListener('loadedmetadata', () => {
        audio.currentTime = target;
      }, { once: true });
      audio.preload = 'auto';
      audio.load();
    }
    this.follow(target);
    if (play && audio.paused) audio.play().catch(() => {});
  }

  indexAt(seconds) {
    let low = 0;
    let high = this.starts.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (this.starts[middle] <= seconds + EARLY) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found >= 0 && seconds < this.ends[found] ? found : -1;
  }

  follow(seconds = this.audio.currentTime) {
    if (this.playhead && this.duration) {
      this.playhead.setAttribute('x', String(Math.min(996, (1000 * seconds) / this.duration)));
    }
    const index = this.indexAt(seconds);
    if (index === this.current) return;
    if (this.current >= 0) {
      const old = this.lines[this.current];
      old.classList.remove('is-current');
      old.removeAttribute('aria-current');
    }
    this.current = index;
    if (index < 0) return;
    const line = this.lines[index];
    line.classList.add('is-current');
    line.setAttribute('aria-current', 'true');
    this.reveal(line);
  }

  // Scroll the transcript (not the page) so that the current line is in view.
  reveal(line) {
    const list = this.list;
    const top = line.offsetTop;
    if (top < list.scrollTop || top + line.offsetHeight > list.scrollTop + list.clientHeight) {
      list.scrollTop = Math.max(0, top - list.clientHeight / 3);
    }
  }

  cite(first, last, quote) {
    const start = this.starts[first];
    let end = this.ends[last];
    if (this.duration) end = Math.min(end, this.duration);
    if (!(end > start)) return;
    offerCitation({
      evidenceId: this.el.dataset.evidenceId,
      visitId: this.el.dataset.visitId,
      span: { type: 'time', start, end },
      quote,
      where: `Call, ${clock(start)}–${clock(end)}`,
      offset: start,
    });
  }

  offerSelection() {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return;
    const range = selection.getRangeAt(0);
    if (!this.list.contains(range.commonAncestorContainer)) return;
    // only the words count: times and speaker labels are left out of the quote
    const parts = [];
    const touched = [];
    this.lines.forEach((line, index) => {
      const text = line.querySelector('.seg-text');
      if (!text || !range.intersectsNode(text)) return;
      const part = document.createRange();
      part.selectNodeContents(text);
      if (range.compareBoundaryPoints(Range.START_TO_START, part) > 0) {
        part.setStart(range.startContainer, range.startOffset);
      }
      if (range.compareBoundaryPoints(Range.END_TO_END, part) < 0) {
        part.setEnd(range.endContainer, range.endOffset);
      }
      const words = part.toString().replace(/\s+/g, ' ').trim();
      if (words) {
        parts.push(words);
        touched.push(index);
      }
    });
    if (!touched.length) return;
    this.cite(touched[0], touched[touched.length - 1], parts.join(' '));
  }

  citeCurrent() {
    let index = this.current;
    if (index < 0) index = Math.max(0, this.indexAt(this.audio.currentTime));
    const line = this.lines[index];
    if (!line) return;
    const text = line.querySelector('.seg-text');
    this.cite(index, index, text ? text.textContent.trim() : '');
  }
}

export function initPlayers(root = document) {
  root.querySelectorAll('[data-call]').forEach((el) => {
    if (!players.has(el) && el.querySelector('[data-audio]')) players.set(el, new CallPlayer(el));
  });
}

// Keep the audio element (and so the playback) when a call's block is rendered again.
export function keepAudio(oldBlock, newBlock) {
  const playing = oldBlock.querySelector('[data-audio]');
  const fresh = newBlock.querySelector('[data-audio]');
  if (playing && fresh && playing.currentSrc && !playing.paused) fresh.replaceWith(playing);
}

// "#t=SECONDS" opens the page's call at that second.
export function seekFromHash() {
  const match = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
  if (!match) return;
  const el = document.querySelector('[data-call]');
  const player = el && players.get(el);
  if (!player) return;
  player.seek(Number(match[1]), false);
  const line = player.current >= 0 ? player.lines[player.current] : null;
  el.scrollIntoView({ block: 'start' });
  if (line) line.querySelector('.seg-time')?.focus({ preventScroll: true });
}
