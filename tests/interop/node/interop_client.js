#!/usr/bin/env node
'use strict';
/*
 * grpc.testing interop client on @grpc/grpc-js (a reference peer for CausalTap's gRPC server).
 *
 * Usage: node interop_client.js --server HOST:PORT [--cases a,b,...] [CASE ...]
 *        node interop_client.js --list
 *
 * Runs the named cases (default: all) from grpc/grpc doc/interop-test-descriptions.md, in order, on one
 * plaintext channel, and prints exactly one line per case to stdout:
 *     PASS <case>
 *     FAIL <case>: <reason>
 * Exit status: 0 when every case passed, 1 when any failed, 2 on a usage error.
 * Protos come from Debian's grpc-proto package (GRPC_PROTO_ROOT, default /usr/share/grpc-proto).
 * Every RPC carries a deadline (--rpc-timeout seconds, default 15) and every case a watchdog.
 */
const path = require('path');

let grpc, protoLoader;
try {
  grpc = require('@grpc/grpc-js');
  protoLoader = require('@grpc/proto-loader');
} catch (e) {
  console.error(`interop_client.js: cannot load @grpc/grpc-js / @grpc/proto-loader (${e.message}); ` +
    `run scripts/setup.sh (npm ci in ${__dirname})`);
  process.exit(3);
}

const PROTO_ROOT = process.env.GRPC_PROTO_ROOT || '/usr/share/grpc-proto';
const ECHO_INITIAL_KEY = 'x-grpc-test-echo-initial';
const ECHO_INITIAL_VALUE = 'test_initial_metadata_value';
const ECHO_TRAILING_KEY = 'x-grpc-test-echo-trailing-bin';
const ECHO_TRAILING_VALUE = Buffer.from([0xab, 0xab, 0xab]);
const REQUEST_SIZES = [27182, 8, 1828, 45904];
const RESPONSE_SIZES = [31415, 9, 2653, 58979];
const LARGE_REQUEST_SIZE = 271828;
const LARGE_RESPONSE_SIZE = 314159;
const SPECIAL_STATUS_MESSAGE = '\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \u{1F608}\t\n';

const ALL_CASES = [
  'empty_unary', 'large_unary', 'client_streaming', 'server_streaming', 'ping_pong', 'empty_stream',
  'cancel_after_begin', 'cancel_after_first_response', 'timeout_on_sleeping_server',
  'status_code_and_message', 'special_status_message', 'custom_metadata',
  'unimplemented_method', 'unimplemented_service',
];

class CaseFailure extends Error {}

function check(cond, message) {
  if (!cond) throw new CaseFailure(message);
}

const codeName = (code) => Object.keys(grpc.status).find((k) => grpc.status[k] === code) || String(code);

function payload(size) {
  return { type: 'COMPRESSABLE', body: Buffer.alloc(size) };
}

function checkPayload(p, size, what = 'response') {
  check(p, `${what} has no payload`);
  check(p.type === 'COMPRESSABLE', `${what} payload type ${p.type}, expected COMPRESSABLE`);
  check(p.body.length === size, `${what} payload is ${p.body.length} bytes, expected ${size}`);
  check(p.body.every((b) => b === 0), `${what} payload is not all zeros`);
}

function checkError(err, code, details, what) {
  check(err, `${what} succeeded, expected ${codeName(code)}`);
  check(err.code === code,
    `${what} ended with ${codeName(err.code)} (${JSON.stringify(err.details)}), expected ${codeName(code)}`);
  if (details !== undefined) {
    check(err.details === details,
      `${what} status message ${JSON.stringify(err.details)}, expected ${JSON.stringify(details)}`);
  }
}

/** Reads a streaming call's messages one at a time; next() resolves {value} or {done:true}, or rejects. */
class StreamReader {
  constructor(call) {
    this.items = [];
    this.waiters = [];
    this.ended = false;
    this.error = null;
    this.status = new Promise((resolve) => call.on('status', resolve));
    this.headers = new Promise((resolve) => call.on('metadata', resolve));
    call.on('data', (m) => { this.items.push(m); this._flush(); });
    call.on('end', () => { this.ended = true; this._flush(); });
    call.on('error', (e) => { this.error = e; this._flush(); });
  }

  _flush() {
    while (this.waiters.length) {
      if (this.items.length) this.waiters.shift().resolve({ value: this.items.shift() });
      else if (this.error) this.waiters.shift().reject(this.error);
      else if (this.ended) this.waiters.shift().resolve({ done: true });
      else break;
    }
  }

  next() {
    return new Promise((resolve, reject) => { this.waiters.push({ resolve, reject }); this._flush(); });
  }

  async all() {
    const out = [];
    for (;;) {
      const r = await this.next();
      if (r.done) return out;
      out.push(r.value);
    }
  }
}

async function expectStreamError(reader, code, details, what) {
  let err = null;
  try {
    await reader.all();
  } catch (e) {
    err = e;
  }
  checkError(err, code, details, what);
}

function unary(client, method, request, metadata, options) {
  return new Promise((resolve) => {
    let headers = null;
    let status = null;
    let result = null;
    let pending = 2;
    const done = () => { if (--pending === 0) resolve({ ...result, headers, status }); };
    const call = client[method](request, metadata || new grpc.Metadata(), options, (err, response) => {
      result = { err, response };
      done();
    });
    call.on('metadata', (md) => { headers = md; });
    call.on('status', (st) => { status = st; done(); });
  });
}

function makeCases(client, unimplementedClient, timeoutS) {
  const opts = () => ({ deadline: Date.now() + timeoutS * 1000 });

  return {
    async empty_unary() {
      const { err, response } = await unary(client, 'EmptyCall', {}, null, opts());
      check(!err, `EmptyCall failed: ${err && `${codeName(err.code)} ${JSON.stringify(err.details)}`}`);
      check(response, 'no Empty response');
    },

    async large_unary() {
      const req = { response_type: 'COMPRESSABLE', response_size: LARGE_RESPONSE_SIZE, payload: payload(LARGE_REQUEST_SIZE) };
      const { err, response } = await unary(client, 'UnaryCall', req, null, opts());
      check(!err, `UnaryCall failed: ${err && `${codeName(err.code)} ${JSON.stringify(err.details)}`}`);
      checkPayload(response.payload, LARGE_RESPONSE_SIZE);
    },

    async client_streaming() {
      const response = await new Promise((resolve, reject) => {
        const call = client.StreamingInputCall(new grpc.Metadata(), opts(), (err, resp) => (err ? reject(err) : resolve(resp)));
        for (const n of REQUEST_SIZES) call.write({ payload: payload(n) });
        call.end();
      });
      const expected = REQUEST_SIZES.reduce((a, b) => a + b, 0);
      check(response.aggregated_payload_size === expected,
        `aggregated_payload_size ${response.aggregated_payload_size}, expected ${expected}`);
    },

    async server_streaming() {
      const call = client.StreamingOutputCall({
        response_type: 'COMPRESSABLE',
        response_parameters: RESPONSE_SIZES.map((size) => ({ size })),
      }, new grpc.Metadata(), opts());
      const responses = await new StreamReader(call).all();
      check(responses.length === RESPONSE_SIZES.length, `${responses.length} responses, expected ${RESPONSE_SIZES.length}`);
      responses.forEach((r, i) => checkPayload(r.payload, RESPONSE_SIZES[i], `response ${i}`));
    },

    async ping_pong() {
      const call = client.FullDuplexCall(new grpc.Metadata(), opts());
      const reader = new StreamReader(call);
      try {
        for (let i = 0; i < REQUEST_SIZES.length; i++) {
          call.write({
            response_type: 'COMPRESSABLE',
            response_parameters: [{ size: RESPONSE_SIZES[i] }],
            payload: payload(REQUEST_SIZES[i]),
          });
          const r = await reader.next();
          check(!r.done, `stream ended after ${i} responses, expected 4`);
          checkPayload(r.value.payload, RESPONSE_SIZES[i], `response ${i}`);
        }
        call.end();
        const rest = await reader.all();
        check(rest.length === 0, `${4 + rest.length} responses, expected 4`);
        const st = await reader.status;
        check(st.code === grpc.status.OK, `status ${codeName(st.code)}, expected OK`);
      } finally {
        call.end();
      }
    },

    async empty_stream() {
      const call = client.FullDuplexCall(new grpc.Metadata(), opts());
      const reader = new StreamReader(call);
      call.end();
      const responses = await reader.all();
      check(responses.length === 0, `${responses.length} responses, expected 0`);
    },

    async cancel_after_begin() {
      const err = await new Promise((resolve) => {
        const call = client.StreamingInputCall(new grpc.Metadata(), opts(), (e) => resolve(e));
        call.cancel();
      });
      checkError(err, grpc.status.CANCELLED, undefined, 'StreamingInputCall');
    },

    async cancel_after_first_response() {
      const call = client.FullDuplexCall(new grpc.Metadata(), opts());
      const reader = new StreamReader(call);
      call.write({ response_type: 'COMPRESSABLE', response_parameters: [{ size: 31415 }], payload: payload(27182) });
      const r = await reader.next();
      check(!r.done, 'stream ended before the first response');
      checkPayload(r.value.payload, 31415, 'first response');
      call.cancel();
      await expectStreamError(reader, grpc.status.CANCELLED, undefined, 'stream after cancel');
    },

    async timeout_on_sleeping_server() {
      const call = client.FullDuplexCall(new grpc.Metadata(), { deadline: Date.now() + 1 });
      const reader = new StreamReader(call);
      call.write({ payload: payload(27182) });
      await expectStreamError(reader, grpc.status.DEADLINE_EXCEEDED, undefined, 'FullDuplexCall');
      call.end();
    },

    async status_code_and_message() {
      const status = { code: 2, message: 'test status message' };
      const { err } = await unary(client, 'UnaryCall', { response_status: status }, null, opts());
      checkError(err, grpc.status.UNKNOWN, status.message, 'UnaryCall');
      const call = client.FullDuplexCall(new grpc.Metadata(), opts());
      const reader = new StreamReader(call);
      call.write({ response_status: status });
      call.end();
      await expectStreamError(reader, grpc.status.UNKNOWN, status.message, 'FullDuplexCall');
    },

    async special_status_message() {
      const status = { code: 2, message: SPECIAL_STATUS_MESSAGE };
      const { err } = await unary(client, 'UnaryCall', { response_status: status }, null, opts());
      checkError(err, grpc.status.UNKNOWN, status.message, 'UnaryCall');
    },

    async custom_metadata() {
      const md = () => {
        const m = new grpc.Metadata();
        m.set(ECHO_INITIAL_KEY, ECHO_INITIAL_VALUE);
        m.set(ECHO_TRAILING_KEY, ECHO_TRAILING_VALUE);
        return m;
      };
      const checkEchoed = (headers, trailers, what) => {
        const initial = headers ? headers.get(ECHO_INITIAL_KEY) : [];
        const trailing = trailers ? trailers.get(ECHO_TRAILING_KEY) : [];
        check(initial.length === 1 && initial[0] === ECHO_INITIAL_VALUE,
          `${what}: initial metadata ${ECHO_INITIAL_KEY}=${JSON.stringify(initial)}, expected ["${ECHO_INITIAL_VALUE}"]`);
        check(trailing.length === 1 && Buffer.isBuffer(trailing[0]) && trailing[0].equals(ECHO_TRAILING_VALUE),
          `${what}: trailing metadata ${ECHO_TRAILING_KEY}=${JSON.stringify(trailing.map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : v)))}, expected ["ababab"]`);
      };

      const req = { response_type: 'COMPRESSABLE', response_size: LARGE_RESPONSE_SIZE, payload: payload(LARGE_REQUEST_SIZE) };
      const u = await unary(client, 'UnaryCall', req, md(), opts());
      check(!u.err, `UnaryCall failed: ${u.err && `${codeName(u.err.code)} ${JSON.stringify(u.err.details)}`}`);
      checkPayload(u.response.payload, LARGE_RESPONSE_SIZE, 'UnaryCall response');
      checkEchoed(u.headers, u.status && u.status.metadata, 'UnaryCall');

      const call = client.FullDuplexCall(md(), opts());
      const reader = new StreamReader(call);
      call.write({
        response_type: 'COMPRESSABLE',
        response_parameters: [{ size: LARGE_RESPONSE_SIZE }],
        payload: payload(LARGE_REQUEST_SIZE),
      });
      call.end();
      const responses = await reader.all();
      check(responses.length === 1, `FullDuplexCall: ${responses.length} responses, expected 1`);
      checkPayload(responses[0].payload, LARGE_RESPONSE_SIZE, 'FullDuplexCall response');
      const st = await reader.status;
      const headers = await Promise.race([reader.headers, new Promise((r) => setTimeout(() => r(null), 100))]);
      checkEchoed(headers, st.metadata, 'FullDuplexCall');
    },

    async unimplemented_method() {
      const { err } = await unary(client, 'UnimplementedCall', {}, null, opts());
      checkError(err, grpc.status.UNIMPLEMENTED, undefined, 'TestService/UnimplementedCall');
    },

    async unimplemented_service() {
      const { err } = await unary(unimplementedClient, 'UnimplementedCall', {}, null, opts());
      checkError(err, grpc.status.UNIMPLEMENTED, undefined, 'UnimplementedService/UnimplementedCall');
    },
  };
}

function parseArgs(argv) {
  const args = { server: null, cases: [], rpcTimeout: 15, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (a.includes('=')) return a.slice(a.indexOf('=') + 1);
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--server' || a.startsWith('--server=')) args.server = value();
    else if (a === '--cases' || a.startsWith('--cases=')) args.cases.push(...value().split(',').filter(Boolean));
    else if (a === '--rpc-timeout' || a.startsWith('--rpc-timeout=')) args.rpcTimeout = Number(value());
    else if (a === '--list') args.list = true;
    else if (a === '-h' || a === '--help') usage(null);
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else args.cases.push(a);
  }
  return args;
}

function usage(error) {
  const text = 'usage: node interop_client.js --server HOST:PORT [--cases a,b] [--rpc-timeout S] [--list] [CASE ...]';
  if (error) {
    console.error(`${text}\ninterop_client.js: error: ${error}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

function oneLine(text) {
  return String(text).split(/\s+/).filter(Boolean).join(' ') || '(no detail)';
}

function describe(e) {
  if (e instanceof CaseFailure) return e.message;
  if (e && typeof e.code === 'number' && 'details' in e) return `unexpected RPC error ${codeName(e.code)}: ${JSON.stringify(e.details)}`;
  return `${(e && e.name) || 'Error'}: ${(e && e.message) || e}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    console.log(ALL_CASES.join('\n'));
    return 0;
  }
  if (!args.server) usage('--server HOST:PORT is required');
  const names = args.cases.length ? args.cases : ALL_CASES;
  const unknown = names.filter((n) => !ALL_CASES.includes(n));
  if (unknown.length) usage(`unknown case(s): ${unknown.join(', ')} (known: ${ALL_CASES.join(', ')})`);

  const def = protoLoader.loadSync('grpc/testing/test.proto', {
    includeDirs: [PROTO_ROOT], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  });
  const testing = grpc.loadPackageDefinition(def).grpc.testing;
  const creds = grpc.credentials.createInsecure();
  const client = new testing.TestService(args.server, creds);
  const unimplementedClient = new testing.UnimplementedService(args.server, creds);
  const cases = makeCases(client, unimplementedClient, args.rpcTimeout);

  let failed = 0;
  for (const name of names) {
    let timer;
    const watchdog = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CaseFailure(`case did not finish within ${args.rpcTimeout + 5} s`)),
        (args.rpcTimeout + 5) * 1000);
    });
    try {
      await Promise.race([cases[name](), watchdog]);
      console.log(`PASS ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${oneLine(describe(e))}`);
    } finally {
      clearTimeout(timer);
    }
  }
  client.close();
  unimplementedClient.close();
  return failed ? 1 : 0;
}

// Exit explicitly: a call cancelled before its stream started can leave grpc-js's deadline timer
// holding the event loop open until the deadline. stdout to a pipe or file is synchronous on Linux.
main().then((rc) => process.exit(rc), (e) => {
  console.error(`interop_client.js: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});
