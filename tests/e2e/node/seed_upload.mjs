// The seed's JavaScript upload example (fetch + FormData), run under Node 20 as a web app on
// another origin would run it: Node's built-in fetch, FormData and Blob, with the Origin
// header a browser adds and the CORS preflight a browser sends first (Authorization is not a
// CORS-safelisted header).
//
//   API=http://127.0.0.1:3000 TOKEN=... FILE=photo.jpg ORIGIN=http://app.example.test \
//     node tests/e2e/node/seed_upload.mjs
//
// Prints one JSON object: the preflight's and the upload's status and CORS headers, and the
// upload's body.
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import * as buffer from "node:buffer";

// a global since Node 20; node:buffer's File is the same class on Node 18 (Debian 12's nodejs)
const File = globalThis.File ?? buffer.File;

const { API, TOKEN, FILE, ORIGIN } = process.env;
const path = "/api/storage/profile-photo/upload";

const corsHeaders = (response) =>
  Object.fromEntries(
    [...response.headers].filter(([name]) => name.startsWith("access-control-") || name === "vary"),
  );

// What the browser sends before the seed's request.
const preflight = await fetch(API + path, {
  method: "OPTIONS",
  headers: {
    Origin: ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization",
  },
});

// The seed's example, with `fileInput.files[0]` read from disk.
const fileInput = {
  files: [new File([await readFile(FILE)], basename(FILE), { type: "image/jpeg" })],
};
const token = TOKEN;

const formData = new FormData();
formData.append("file", fileInput.files[0]);
const response = await fetch(API + path, {
  method: "POST",
  headers: {
    Authorization: `Bearer ${token}`,
    Origin: ORIGIN,
  },
  body: formData,
});
const result = await response.json();

console.log(
  JSON.stringify({
    preflight: { status: preflight.status, headers: corsHeaders(preflight) },
    upload: { status: response.status, headers: corsHeaders(response), body: result },
  }),
);
