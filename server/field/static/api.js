// Calls to the Fieldbook JSON API with the device token. Errors come back in one
// shape ({code, status, message, errors}); the outbox branches on `status` and `code`.

export const API = "/api/v1";

let token = null;

export function setToken(value) {
  token = value;
}

export function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** The server answered with an error. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `The server answered ${status}.`);
    this.name = "ApiError";
    this.status = status;
    this.code = body.code || `http.${status}`;
    this.errors = body.errors || {};
  }
}

/** No answer came back: offline, connection reset, or the server is unreachable. */
export class NetworkError extends Error {
  constructor(message = "No connection to the server.") {
    super(message);
    this.name = "NetworkError";
  }
}

/** Tell whether an error means the device token is no longer accepted. */
export function isAuthError(error) {
  return error instanceof ApiError && error.status === 401;
}

/** Turn an error body (text) into an ApiError, whatever the body holds. */
export function errorFrom(status, text) {
  let body = {};
  try {
    body = JSON.parse(text) || {};
  } catch {
    // a proxy's HTML error page: keep the status only
  }
  return new ApiError(status, typeof body === "object" ? body : {});
}

/** Send a request to an API path (or a full URL); resolve with a 2xx Response, or throw. */
export async function request(method, path, { json, headers = {} } = {}) {
  const init = {
    method,
    headers: { Accept: "application/json", ...authHeaders(), ...headers },
    cache: "no-store",
    // bearer tokens only: a viewer session cookie in the same browser would make
    // the server ask for a CSRF token
    credentials: "omit",
  };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path.startsWith("http") ? path : API + path, init);
  } catch {
    throw new NetworkError();
  }
  if (!response.ok) throw errorFrom(response.status, await response.text().catch(() => ""));
  return response;
}

/** Send a request and resolve with its JSON body (null for 204). */
export async function call(method, path, options) {
  const response = await request(method, path, options);
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch {
    // the answer was cut off: treat it as no answer, so the call is retried
    throw new NetworkError("The server's answer was cut off.");
  }
}

/** GET every page of a paginated list. */
export async function listAll(path) {
  const items = [];
  for (let page = 1; ; page += 1) {
    const separator = path.includes("?") ? "&" : "?";
    const response = await request("GET", `${path}${separator}page=${page}&page_size=100`);
    items.push(...(await response.json()));
    const pagination = JSON.parse(response.headers.get("X-Pagination") || "{}");
    if (!pagination.total_pages || page >= pagination.total_pages) return items;
  }
}
