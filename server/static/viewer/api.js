// Calls to Fieldbook's JSON API with the browser session: same-origin cookie plus the
// page's CSRF token in X-CSRFToken for anything that changes data.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered ${status}.`);
    this.status = status;
    this.code = body && body.code;
    this.errors = (body && body.errors) || {};
  }

  // One sentence per offending field, for people.
  details() {
    return Object.entries(this.errors).map(([field, problems]) =>
      `${field}: ${Array.isArray(problems) ? problems.join(' ') : JSON.stringify(problems)}`);
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRFToken'] = csrfToken();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
