// Profile photos: a browser client of the service's API, plain JavaScript (no build step).
//
// REST for uploads (multipart, or the direct upload: upload-url + PUT + complete), GraphQL for
// everything else. The API base URL is this page's origin unless `?api=<url>` or the field
// says otherwise; a page on another origin needs that origin in the stack's
// CORS_ALLOWED_ORIGINS.
//
// The current photo shows as a round avatar: the MEDIUM square rendition (cut from the
// photo's crop box), over its dominant colour and then its ThumbHash placeholder, both
// painted before the square's URL is set. The ThumbHash decoder is thumbhash.js beside this
// file (the reference implementation, vendored), loaded as a module on first use; where
// modules cannot load (the page opened as a file) the colour alone stands in.
//
// Each action (upload, restore, delete, export, a new token, loading the photos) starts by
// clearing what the previous one left: its message, its error, the progress bar, the
// export list.
"use strict";

// The contract's accepted types and size limit (SPEC "Upload"; the service decides, these
// only spare the user a doomed upload).
const ALLOWED = ["jpg", "jpeg", "png", "gif", "webp", "heic", "heif"];
const TYPES = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  heic: "image/heic",
  heif: "image/heif",
};
const MAX_FILE_SIZE = 5242880;
// Above this a multipart body no longer fits API Gateway + Lambda's 6 MB (base64) on AWS:
// send it straight to storage instead (README, "Limits of the AWS deployment").
const DIRECT_UPLOAD_ABOVE = 4.5 * 1024 * 1024;
// Headers a browser sets itself and refuses from scripts.
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection"]);

const $ = (id) => document.getElementById(id);
// Where this script was loaded from (web/app.js at the stack, app.js beside index.html):
// thumbhash.js sits beside it.
const SCRIPT_URL = (document.currentScript && document.currentScript.src) || location.href;

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function apiBase() {
  const typed = $("api").value.trim().replace(/\/+$/, "");
  if (typed) return typed;
  return location.protocol === "file:" ? "http://127.0.0.1:3000" : location.origin;
}

function token() {
  return $("token").value.trim().replace(/^Bearer\s+/i, "");
}

function newIdempotencyKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  // crypto.randomUUID needs a secure context (a phone on http://10.0.2.2 is not one)
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------- messages

function showStatus(text) {
  $("status").textContent = text;
}

function hideProgress() {
  const bar = $("progress");
  bar.hidden = true;
  bar.value = 0;
  $("progress-text").textContent = "";
}

// What the previous action left on the page: its message, its error, its progress and the
// export it listed (whose links and buttons describe the state before this action).
function clearResults() {
  showStatus("");
  showError(null);
  hideProgress();
  $("export-list").replaceChildren();
}

// A new token is another user (or none): nothing shown for the previous one stays.
function clearProfile() {
  avatarRequest += 1; // an avatar still being prepared is not shown
  $("who").textContent = "Not loaded yet.";
  $("current").hidden = true;
  $("current-img").removeAttribute("src");
  $("history").replaceChildren();
}

function showError(error) {
  const box = $("error");
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.textContent = error.message || String(error);
  box.hidden = false;
}

// The contract's envelope message, else what the platform said, else the status line.
function messageOf(status, text) {
  try {
    const body = JSON.parse(text);
    if (body && body.error && body.error.message) {
      return new ApiError(body.error.message, status, body.error.code);
    }
    if (body && body.message) return new ApiError(body.message, status);
  } catch {
    // not JSON: fall through
  }
  return new ApiError(`HTTP ${status}`, status);
}

function unreachable() {
  return new ApiError(
    `Could not reach the API at ${apiBase()} (network error, or this page's origin ` +
      `${location.origin} is not in the service's CORS_ALLOWED_ORIGINS)`,
    0,
  );
}

// ---------------------------------------------------------------- HTTP

// One XMLHttpRequest (fetch has no upload progress), resolved with the parsed JSON body.
function send(method, url, { headers = {}, body = null, onProgress = null } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) {
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    if (onProgress) {
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded, event.total);
      };
    }
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null);
        } catch {
          resolve(null);
        }
      } else {
        reject(messageOf(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () => reject(unreachable());
    xhr.send(body);
  });
}

function authHeaders(extra = {}) {
  const jwt = token();
  if (!jwt) throw new ApiError("Paste a token or press “Dev token” first", 0);
  return { Authorization: `Bearer ${jwt}`, ...extra };
}

async function postJson(path, payload, extra = {}) {
  return send("POST", apiBase() + path, {
    headers: authHeaders({ "Content-Type": "application/json", ...extra }),
    body: JSON.stringify(payload),
  });
}

async function graphql(query, variables = {}) {
  let response;
  try {
    response = await fetch(apiBase() + "/graphql", {
      method: "POST",
      headers: authHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw unreachable();
  }
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw messageOf(response.status, text);
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, response.status, first.extensions && first.extensions.code);
  }
  if (!response.ok || !body.data) throw messageOf(response.status, text);
  return body.data;
}

// ---------------------------------------------------------------- dev token

async function devToken() {
  const userId = $("dev-user").value.trim() || "demo-user";
  let response;
  try {
    response = await fetch(apiBase() + "/dev/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ userId, username: userId }),
    });
  } catch {
    throw unreachable();
  }
  const text = await response.text();
  if (response.status === 404) {
    throw new ApiError(
      "This service does not hand out dev tokens (only the local stack with its own " +
        "development JWT secret does): paste a token",
      404,
    );
  }
  if (!response.ok) throw messageOf(response.status, text);
  $("token").value = JSON.parse(text).data.token;
  clearProfile();
  showStatus(`Dev token for ${userId}`);
}

// ---------------------------------------------------------------- upload

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

function contentTypeOf(file) {
  // Browsers leave HEIC's type empty; the extension then names it (as the service allows).
  return file.type || TYPES[extensionOf(file.name)] || "application/octet-stream";
}

// The contract's own message for a file the service would refuse, or null.
function hintFor(file) {
  const ext = extensionOf(file.name);
  if (!ALLOWED.includes(ext)) {
    return `Content type ${file.type || ext || "unknown"} not allowed. Allowed types: ${ALLOWED.join(", ")}`;
  }
  if (file.size > MAX_FILE_SIZE) {
    return `File size ${file.size} exceeds maximum ${MAX_FILE_SIZE} bytes for profile photos`;
  }
  return null;
}

function onFileChosen() {
  clearResults();
  const file = $("file").files[0];
  if (!file) {
    $("send").disabled = true;
    return;
  }
  const hint = hintFor(file);
  $("send").disabled = Boolean(hint);
  if (hint) {
    $("hint").textContent = hint;
    $("hint").className = "warning";
    return;
  }
  const how = file.size > DIRECT_UPLOAD_ABOVE ? "direct upload" : "multipart upload";
  $("hint").textContent = `${file.name}: ${file.size} bytes, ${contentTypeOf(file)} (${how})`;
  $("hint").className = "note";
}

function progress(loaded, total) {
  const bar = $("progress");
  bar.hidden = false;
  bar.max = total;
  bar.value = loaded;
  $("progress-text").textContent = `${Math.round((100 * loaded) / total)} %`;
}

function multipartUpload(file, key) {
  const form = new FormData();
  form.append("file", file, file.name);
  return send("POST", apiBase() + "/api/storage/profile-photo/upload", {
    headers: authHeaders({ "Idempotency-Key": key }),
    body: form,
    onProgress: progress,
  });
}

async function directUpload(file, key) {
  const grant = await postJson(
    "/api/storage/profile-photo/upload-url",
    { fileName: file.name, contentType: contentTypeOf(file), size: file.size },
    { "Idempotency-Key": `${key}-grant` },
  );
  const { uploadUrl, method, headers, fileKey } = grant.data;
  await send(method || "PUT", uploadUrl, { headers, body: file, onProgress: progress });
  return postJson("/api/storage/profile-photo/complete", { fileKey }, { "Idempotency-Key": key });
}

async function upload() {
  const file = $("file").files[0];
  if (!file) return;
  const key = newIdempotencyKey(); // one per logical upload: a retry stores nothing twice
  $("send").disabled = true;
  showStatus(`Uploading ${file.name}…`);
  progress(0, file.size || 1);
  try {
    let result;
    if (file.size > DIRECT_UPLOAD_ABOVE) {
      result = await directUpload(file, key);
    } else {
      try {
        result = await multipartUpload(file, key);
      } catch (error) {
        // a platform that refuses the body itself (API Gateway's 413): go direct
        if (!(error instanceof ApiError) || error.status !== 413) throw error;
        result = await directUpload(file, newIdempotencyKey());
      }
    }
    progress(file.size || 1, file.size || 1);
    await refresh();
    showStatus(`Uploaded ${result.data.fileName} (${result.data.size} bytes)`);
  } catch (error) {
    // "Uploading…" and a bar stopped half way say nothing true about the failed upload
    showStatus("");
    hideProgress();
    throw error;
  } finally {
    $("send").disabled = false;
  }
}

// ---------------------------------------------------------------- photos

const ME = `{
  me {
    id
    username
    profilePhotoUrl(size: MEDIUM, square: true)
    profilePhotoUploadedAt
    profilePhotoThumbhash
    profilePhotoColor
    profilePhotos {
      assetId
      url(size: SMALL, square: true)
      contentType
      size
      uploadedAt
      width
      height
      thumbhash
      dominantColor
      crop { left top side source }
    }
  }
}`;

const RESTORE = `mutation ($assetId: ID!) {
  restoreProfilePhoto(assetId: $assetId) { photo { assetId } }
}`;

const DELETE = `mutation ($assetId: ID!) {
  deleteProfilePhoto(assetId: $assetId) { deletedCount }
}`;

const EXPORT = `mutation ($after: String) {
  exportProfilePhotos(first: 100, after: $after) {
    count
    items { assetId url fileName contentType size uploadedAt archived }
    pageInfo { hasNextPage endCursor }
  }
}`;

function button(label, action) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.addEventListener("click", () => run(action));
  return element;
}

// ---------------------------------------------------------------- avatar placeholder

let decoder = null;

// The vendored ThumbHash module, loaded once; null where it cannot load.
function thumbhashModule() {
  if (!decoder) decoder = import(new URL("thumbhash.js", SCRIPT_URL).href).catch(() => null);
  return decoder;
}

// The placeholder picture of a base64 ThumbHash as a PNG data URL, or null.
async function placeholderUrl(base64) {
  if (!base64) return null;
  const module = await thumbhashModule();
  if (!module) return null;
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return module.thumbHashToDataURL(bytes);
  } catch {
    return null; // a hash this decoder cannot read: the colour stays
  }
}

// The ThumbHash pictures the whole photo; the avatar shows its crop box. Scale and shift the
// placeholder so the box fills the circle, as the square will (CSS percentages: a position
// of p% puts the point p% across the picture at p% across the box).
function placeholderGeometry(photo) {
  const crop = photo && photo.crop;
  if (!crop || !photo.width || !photo.height || !crop.side) {
    return { size: "cover", position: "center" };
  }
  const across = (start, whole) =>
    whole > crop.side ? `${(100 * start) / (whole - crop.side)}%` : "0%";
  return {
    size: `${(100 * photo.width) / crop.side}% ${(100 * photo.height) / crop.side}%`,
    position: `${across(crop.left, photo.width)} ${across(crop.top, photo.height)}`,
  };
}

// A rendition the service is still making answers 503 (retry shortly), which a browser never
// retries for an <img>: load it again a few times, waiting longer each time (about 30 s in
// all), unless the image has been given another URL meanwhile.
const IMAGE_RETRIES = [1000, 2000, 3000, 5000, 8000, 12000];

function loadImage(img, url) {
  let attempt = 0;
  img.onerror = () => {
    if (attempt >= IMAGE_RETRIES.length) return;
    const wait = IMAGE_RETRIES[attempt++];
    setTimeout(() => {
      if (img.getAttribute("src") === url) img.src = url;
    }, wait);
  };
  img.src = url;
}

let avatarRequest = 0;

// Paint the colour, then the ThumbHash, then set the square's URL: the browser shows the
// placeholder until the square arrives, and drops it once the square has loaded.
async function showAvatar(img, url, thumbhash, color, photo) {
  const request = ++avatarRequest;
  img.style.backgroundColor = color || "";
  img.style.backgroundImage = "";
  img.dataset.placeholder = color ? "color" : "none";
  const picture = await placeholderUrl(thumbhash);
  if (request !== avatarRequest) return; // a newer render took over
  if (picture) {
    const { size, position } = placeholderGeometry(photo);
    img.style.backgroundImage = `url("${picture}")`;
    img.style.backgroundSize = size;
    img.style.backgroundPosition = position;
    img.dataset.placeholder = "thumbhash";
  }
  img.onload = () => {
    if (request !== avatarRequest) return;
    img.style.backgroundImage = "none";
    img.style.backgroundColor = "";
  };
  loadImage(img, url);
}

function render(me) {
  $("who").textContent = `Signed in as ${me.username || me.id} (${me.id})`;
  const current = $("current");
  const img = $("current-img");
  if (me.profilePhotoUrl) {
    // the current photo is the first active one; its crop places the placeholder
    const first = me.profilePhotos[0];
    const photo = first && first.thumbhash === me.profilePhotoThumbhash ? first : null;
    current.hidden = false;
    $("current-caption").textContent = `Current photo, uploaded ${me.profilePhotoUploadedAt}`;
    showAvatar(img, me.profilePhotoUrl, me.profilePhotoThumbhash, me.profilePhotoColor, photo);
  } else {
    avatarRequest += 1;
    img.removeAttribute("src");
    current.hidden = true;
  }
  const list = $("history");
  list.replaceChildren();
  me.profilePhotos.forEach((photo, index) => {
    const item = document.createElement("li");
    item.dataset.assetId = photo.assetId;
    const img = document.createElement("img");
    loadImage(img, photo.url);
    img.alt = `photo ${photo.assetId}`;
    img.width = 96;
    img.height = 96;
    if (photo.dominantColor) img.style.backgroundColor = photo.dominantColor;
    const caption = document.createElement("span");
    caption.textContent = `${photo.uploadedAt} · ${photo.contentType} · ${photo.size} bytes`;
    item.append(img, caption);
    if (index > 0) {
      item.append(
        button("Restore", async () => {
          await graphql(RESTORE, { assetId: photo.assetId });
          await refresh();
          showStatus(`Restored ${photo.assetId}`);
        }),
      );
    } else {
      item.append(Object.assign(document.createElement("strong"), { textContent: "current" }));
    }
    item.append(
      button("Delete", async () => {
        if (!confirm("Erase this photo for good (bytes and metadata)?")) return;
        await graphql(DELETE, { assetId: photo.assetId });
        await refresh();
        showStatus(`Deleted ${photo.assetId}`);
      }),
    );
    list.append(item);
  });
  if (!me.profilePhotos.length) {
    list.append(Object.assign(document.createElement("li"), { textContent: "No photos yet." }));
  }
}

async function refresh() {
  const data = await graphql(ME);
  render(data.me);
}

async function exportAll() {
  const list = $("export-list");
  let after = null;
  let count = 0;
  do {
    // one operation per page: an operation may export at most once
    const page = (await graphql(EXPORT, { after })).exportProfilePhotos;
    count = page.count;
    for (const item of page.items) {
      const entry = document.createElement("li");
      const link = document.createElement("a");
      link.href = item.url;
      link.textContent = item.fileName || item.assetId;
      link.target = "_blank";
      link.rel = "noopener";
      entry.append(
        link,
        ` · ${item.uploadedAt} · ${item.size} bytes${item.archived ? " · archived " : ""}`,
      );
      if (item.archived) {
        // archived photos appear only here: bring one back as the current photo
        entry.append(
          button("Restore", async () => {
            await graphql(RESTORE, { assetId: item.assetId });
            await refresh();
            showStatus(`Restored ${item.assetId}`);
          }),
        );
      }
      list.append(entry);
    }
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after);
  showStatus(`Exported ${count} photo(s); the links expire with their signed URLs`);
}

// ---------------------------------------------------------------- wiring

async function run(action) {
  clearResults();
  try {
    await action();
  } catch (error) {
    showError(error);
  }
}

function init() {
  const api = new URLSearchParams(location.search).get("api");
  if (api) $("api").value = api;
  $("dev-token").addEventListener("click", () => run(devToken));
  $("token").addEventListener("input", () => {
    clearResults();
    clearProfile();
  });
  $("refresh").addEventListener("click", () => run(refresh));
  $("file").addEventListener("change", onFileChosen);
  $("send").addEventListener("click", () => run(upload));
  $("export-button").addEventListener("click", () => run(exportAll));
}

init();
