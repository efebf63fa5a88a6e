// Preloaded into the CLI by bench/cold-start.mjs (node --import): adds up the time the process
// has at least one HTTP request in flight (node:http, node:https, fetch) and writes, at exit,
// {"wallMs", "netMs"} to C4M_NET_TRACE. wallMs counts from process start; local = wall − net.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';

let inflight = 0;
let since = 0;
let netMs = 0;
const begin = () => {
  if (inflight++ === 0) since = performance.now();
};
const end = () => {
  if (--inflight === 0) netMs += performance.now() - since;
};
const once = (f) => {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
};

for (const mod of [http, https]) {
  for (const name of ['request', 'get']) {
    const orig = mod[name];
    mod[name] = function (...args) {
      const req = orig.apply(this, args);
      begin();
      const fin = once(end);
      req.on('response', (res) => {
        res.on('end', fin);
        res.on('close', fin);
        res.on('error', fin);
      });
      req.on('error', fin);
      req.on('close', () => setImmediate(() => req.res ?? fin()));
      return req;
    };
  }
}
const origFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  begin();
  const fin = once(end);
  try {
    const res = await origFetch(...args);
    // the body is read right after; count it by cloning's cost-free proxy: end when it is consumed
    const body = await res.arrayBuffer();
    fin();
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  } catch (e) {
    fin();
    throw e;
  }
};
process.on('exit', () => {
  if (process.env.C4M_NET_TRACE) fs.writeFileSync(process.env.C4M_NET_TRACE, JSON.stringify({ wallMs: performance.now(), netMs }));
});
