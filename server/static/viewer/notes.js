// "#line-N" opens a note at line N: the block holding that line is shown and marked.

function blockFor(line) {
  const exact = document.getElementById(`line-${line}`);
  if (exact) return exact;
  return [...document.querySelectorAll('[data-note-body] [data-line-start]')].find((block) => {
    const start = Number(block.dataset.lineStart);
    const end = Number(block.dataset.lineEnd);
    return start <= line && line <= Math.max(start, end);
  });
}

export function showLineFromHash() {
  const match = /^#line-(\d+)$/.exec(window.location.hash);
  document.querySelectorAll('.is-target').forEach((old) => old.classList.remove('is-target'));
  if (!match) return;
  const block = blockFor(Number(match[1]));
  if (!block) return;
  block.classList.add('is-target');
  block.setAttribute('tabindex', '-1');
  block.scrollIntoView({ block: 'center' });
  block.focus({ preventScroll: true });
}
