// Small DOM helpers. Text from the server or the researcher is only ever set as
// text, never parsed as HTML, and no style is written inline (the CSP forbids it).

/** Build an element: h("button", { class: "primary", onclick }, "Save"). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (["value", "checked", "disabled", "hidden", "open"].includes(name))
      element[name] = value;
    else element.setAttribute(name === "className" ? "class" : name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** Replace a container's content, keeping focus on the "same" control if it had it. */
export function replaceContent(container, ...children) {
  const key = document.activeElement?.dataset?.focusKey;
  container.replaceChildren(...children.flat(Infinity).filter(Boolean));
  if (key) container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)?.focus();
}

/** Say something to screen-reader users without moving their focus. */
export function announce(message) {
  const announcer = document.getElementById("announcer");
  announcer.textContent = "";
  // a fresh text node after a tick is what makes screen readers read it again
  setTimeout(() => {
    announcer.textContent = message;
  }, 50);
}

/** Show a modal dialog; resolve with the value of the button pressed (or null). */
export function ask({ title, body, confirm, cancel = "Cancel" }) {
  return new Promise((resolve) => {
    const titleId = `dialog-${Math.random().toString(36).slice(2)}`;
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      [].concat(body).map((text) => h("p", { class: "dialog-text" }, text)),
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          { type: "button", class: "primary", value: "yes", onclick: () => dialog.close("yes") },
          confirm,
        ),
        h("button", { type: "button", value: "no", onclick: () => dialog.close("no") }, cancel),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes" ? true : null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export function formatClock(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** mm:ss (or h:mm:ss) for a recording's timer. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
  const ss = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Only web links may become links; anything else (javascript:, data:) stays text. */
export function safeWebUrl(url) {
  try {
    const parsed = new URL(url);
    return ["http:", "https:"].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

function main() {
  return document.getElementById("main");
}

/** Draw a screen: a title (the page's h1, focused for screen readers) and content. */
export function draw(title, ...content) {
  document.title = `${title} · Fieldbook`;
  const heading = h("h1", { tabindex: "-1", id: "screen-title" }, title);
  main().replaceChildren(heading, ...content.flat(Infinity).filter(Boolean));
  heading.focus();
}

/** A link back to the previous screen. */
export function back(href, text) {
  return h("p", { class: "back" }, h("a", { href }, `← ${text}`));
}
