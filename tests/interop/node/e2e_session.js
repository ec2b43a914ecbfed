#!/usr/bin/env node
// End-to-end session flow from @grpc/grpc-js against a running `causaltap serve`:
//   node e2e_session.js --server 127.0.0.1:PORT [--frames 12] [--points-after 3]
// Opens a session, subscribes, streams raw RGB8 frames (made here: a shifting texture) over StreamFrames,
// adds points mid-stream, waits for every update, closes the session. Prints one JSON object with what the
// subscriber saw; exit 1 (with the reason on stderr) when a call fails.
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function parseArgs(argv) {
  const args = { server: null, frames: 12, pointsAfter: 3, width: 160, height: 120 };
  for (let i = 2; i < argv.length; i++) {
    const next = () => argv[++i];
    switch (argv[i]) {
      case '--server': args.server = next(); break;
      case '--frames': args.frames = parseInt(next(), 10); break;
      case '--points-after': args.pointsAfter = parseInt(next(), 10); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!args.server) throw new Error('--server HOST:PORT is required');
  return args;
}

const protoRoot = path.resolve(__dirname, '..', '..', '..', 'proto');
const definition = protoLoader.loadSync('causaltap/v1/tracker.proto', {
  includeDirs: [protoRoot], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const v1 = grpc.loadPackageDefinition(definition).causaltap.v1;
const deadline = () => new Date(Date.now() + 60_000);

function unary(client, method, request) {
  return new Promise((resolve, reject) =>
    client[method](request, { deadline: deadline() }, (err, reply) => (err ? reject(err) : resolve(reply))));
}

// A textured RGB8 frame that moves 1 px per frame, so the tracker has something to follow.
function rawFrame(width, height, shift) {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x + shift;
      const o = (y * width + x) * 3;
      data[o] = (u * 7 + y * 3) & 255;
      data[o + 1] = ((u >> 3) ^ (y >> 3)) & 1 ? 220 : 30;
      data[o + 2] = (u * y) & 255;
    }
  }
  return data;
}

async function main() {
  const args = parseArgs(process.argv);
  const client = new v1.Tracker(args.server, grpc.credentials.createInsecure());
  const session = await unary(client, 'OpenSession', {
    camera_id: 'e2e-node', frame_width: args.width, frame_height: args.height, ingest_policy: 'INGEST_POLICY_BLOCK',
  });
  const sid = session.session_id;

  // Subscribe first and wait until the server counts the subscriber, so no update is missed.
  const updates = [];
  const subscription = client.Subscribe({ session_id: sid, queue_updates: 64 }, { deadline: deadline() });
  const subscriptionDone = new Promise((resolve) => {
    subscription.on('data', (u) => updates.push({ frame_index: Number(u.frame_index), points: u.points.map((p) => p.id), skipped: Number(u.updates_skipped) }));
    subscription.on('error', (err) => resolve({ code: grpc.status[err.code], details: err.details }));
    subscription.on('end', () => resolve({ code: 'OK' }));
  });
  for (let i = 0; ; i++) {
    const info = await unary(client, 'GetSession', { session_id: sid });
    if (info.stats.subscribers >= 1) break;
    if (i > 500) throw new Error('the subscriber never showed up in SessionStats.subscribers');
    await new Promise((r) => setTimeout(r, 20));
  }

  let added = null;
  const summary = await new Promise((resolve, reject) => {
    const call = client.StreamFrames({ deadline: deadline() }, (err, reply) => (err ? reject(err) : resolve(reply)));
    (async () => {
      for (let i = 0; i < args.frames; i++) {
        call.write({
          session_id: sid, capture_time_ns: String(BigInt(Date.now()) * 1000000n), sequence: String(i),
          raw: { width: args.width, height: args.height, pixel_format: 'PIXEL_FORMAT_RGB8', data: rawFrame(args.width, args.height, i) },
        });
        if (i === args.pointsAfter) {
          added = await unary(client, 'AddPoints', {
            session_id: sid, points: [{ x: 40.5, y: 30.5 }, { x: 80, y: 60 }, { x: 120.25, y: 90.75 }],
          });
        }
        await new Promise((r) => setTimeout(r, 33));
      }
      call.end();
    })().catch(reject);
  });

  for (let i = 0; i < 1000; i++) {
    const s = (await unary(client, 'GetSession', { session_id: sid })).stats;
    if (Number(s.frames_processed) + Number(s.frames_dropped) + Number(s.frames_rejected) >= Number(s.frames_received)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const closed = await unary(client, 'CloseSession', { session_id: sid });
  const end = await subscriptionDone;
  client.close();
  console.log(JSON.stringify({
    session_id: sid,
    summary: { received: Number(summary.frames_received), queued: Number(summary.frames_queued), dropped: Number(summary.frames_dropped), rejected: Number(summary.frames_rejected) },
    processed: Number(closed.stats.frames_processed),
    added: added && { ids: added.point_ids, query_frame_index: Number(added.query_frame_index) },
    updates,
    end,
  }));
}

main().then(() => process.exit(0), (err) => {
  console.error(`e2e_session.js failed: ${err.code !== undefined ? grpc.status[err.code] + ': ' + err.details : err.stack || err}`);
  process.exit(1);
});
