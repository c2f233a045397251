// Signing in once per phone: the device token is kept in IndexedDB. A revoked
// token brings the researcher back here, with the outbox untouched.

import * as api from "./api.js";
import * as db from "./db.js";
import { draw, h } from "./ui.js";

export async function signIn({ onSignedIn }) {
  const problem = await db.setting("auth_problem");
  const previous = await db.setting("last_email", "");
  const error = h("p", { class: "form-error", id: "signin-error", role: "alert" });
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    h("label", { for: "email" }, "E-mail"),
    h("input", {
      id: "email",
      name: "email",
      type: "email",
      autocomplete: "username",
      required: true,
      value: previous,
    }),
    h("label", { for: "password" }, "Password"),
    h("input", {
      id: "password",
      name: "password",
      type: "password",
      autocomplete: "current-password",
      required: true,
    }),
    h("label", { for: "device-name" }, "Name of this phone"),
    h("input", {
      id: "device-name",
      name: "device_name",
      required: true,
      value: (await db.setting("device_name")) || "My phone",
      maxlength: "100",
    }),
    h(
      "p",
      { class: "hint", id: "device-hint" },
      "Shown in your account's list of signed-in devices.",
    ),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    if (!data.email || !data.password) {
      error.textContent = "Enter your e-mail and password.";
      return;
    }
    if (!navigator.onLine) {
      error.textContent =
        "You are offline. Signing in needs a connection; what you captured stays on the phone.";
      return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    error.textContent = "";
    try {
      api.setToken(null);
      const issued = await api.call("POST", "/tokens", { json: data });
      api.setToken(issued.token);
      const user = await api.call("GET", "/me");
      const session = {
        token: issued.token,
        token_id: issued.id,
        device_name: data.device_name,
        user,
      };
      await db.setSetting("session", session);
      await db.setSetting("last_email", data.email);
      await db.setSetting("device_name", data.device_name);
      await db.setSetting("auth_problem", null);
      // ask the browser not to evict the outbox when the phone runs low on space
      navigator.storage?.persist?.();
      await onSignedIn(session);
    } catch (failure) {
      api.setToken(null);
      error.textContent =
        failure instanceof api.NetworkError
          ? "The server cannot be reached. Try again when you have a connection."
          : failure.message;
      button.disabled = false;
    }
  });
  draw(
    problem ? "Sign in again" : "Sign in",
    problem
      ? h(
          "p",
          { class: "notice" },
          `Your sign-in on this phone stopped working (${problem}). Sign in again: `,
          "everything you captured is kept in the outbox and is sent once you are back.",
        )
      : h(
          "p",
          null,
          "Sign in once on this phone. You can then work offline; Fieldbook sends what you capture when it can.",
        ),
    form,
  );
}
