// The GraphQL over HTTP audit of the `graphql-http` package (its `serverAudits`, pinned in
// package.json) against a running stack's /graphql, every request with a bearer token.
//
//   URL=http://127.0.0.1:3000/graphql TOKEN=... node tests/e2e/node/graphql_audit.mjs
//
// Prints one JSON array: each audit's id, name (starting MUST, SHOULD or MAY), status
// (`ok`, or `error` for a MUST, `warn` for a SHOULD, `notice` for a MAY that failed) and,
// when it failed, the reason and the answer's status and body.
import { serverAudits } from "graphql-http";

const { URL: url, TOKEN } = process.env;

async function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${TOKEN}`);
  return fetch(input, { ...init, headers });
}

const results = [];
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== "ok") {
    entry.reason = result.reason;
    entry.httpStatus = result.response.status;
    entry.contentType = result.response.headers.get("content-type");
    entry.body = (await result.response.text().catch(() => "")).slice(0, 300);
  }
  results.push(entry);
}
process.stdout.write(JSON.stringify(results));
