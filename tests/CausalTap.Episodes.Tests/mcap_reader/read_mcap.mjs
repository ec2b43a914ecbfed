// Independent MCAP check for CausalTap.Episodes.Tests: reads a file with @mcap/core's stream reader and (when the
// file has a summary) its indexed reader, and prints one JSON object on stdout.
// Usage: node read_mcap.mjs FILE [--samples]
// --samples adds, per channel, the first message's data (base64) and each schema's data (base64), so a decoder that
// knows nothing of CausalTap (tests/.../decode_samples.py) can decode them from the file's own FileDescriptorSets.
import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { McapStreamReader, McapIndexedReader } from "@mcap/core";
import { crc32 } from "@foxglove/crc";

const path = process.argv[2];
const withSamples = process.argv.includes("--samples");
const bytes = new Uint8Array(await readFile(path));

function newTally() {
  return { schemas: {}, channels: {}, perChannel: {}, messageCount: 0, firstLogTime: null, lastLogTime: null };
}
function addMessage(t, m) {
  const c = (t.perChannel[m.channelId] ??= { count: 0, firstLogTime: null, lastLogTime: null, sha256: createHash("sha256"), sequences: [] });
  if (withSamples && c.count === 0) c.firstData = Buffer.from(m.data).toString("base64");
  c.count++;
  c.sha256.update(m.data);
  if (c.sequences.length < 5) c.sequences.push(m.sequence);
  const lt = m.logTime;
  if (c.firstLogTime === null) c.firstLogTime = lt;
  c.lastLogTime = lt;
  if (t.firstLogTime === null || lt < t.firstLogTime) t.firstLogTime = lt;
  if (t.lastLogTime === null || lt > t.lastLogTime) t.lastLogTime = lt;
  t.messageCount++;
}
const schemaJson = (s) => ({
  id: s.id, name: s.name, encoding: s.encoding, dataLength: s.data.length, dataSha256: createHash("sha256").update(s.data).digest("hex"),
  ...(withSamples ? { data: Buffer.from(s.data).toString("base64") } : {}),
});
const channelJson = (c) => ({ id: c.id, schemaId: c.schemaId, topic: c.topic, messageEncoding: c.messageEncoding, metadata: Object.fromEntries(c.metadata) });
function finish(t) {
  for (const c of Object.values(t.perChannel)) c.sha256 = c.sha256.digest("hex");
  return t;
}

// 1. Stream reader: file order, chunk CRCs validated; done() is false when the file stops before the end magic.
const stream = { ok: true, error: null, ...newTally(), metadata: [], messageIndexRecords: 0, sawDataEnd: false, sawFooter: false, done: false, truncated: true, profile: null };
try {
  const reader = new McapStreamReader({ validateCrcs: true });
  reader.append(bytes);
  for (let r; (r = reader.nextRecord()) !== undefined; ) {
    switch (r.type) {
      case "Header": stream.profile = r.profile; stream.library = r.library; break;
      case "Schema": stream.schemas[r.id] = schemaJson(r); break;
      case "Channel": stream.channels[r.id] = channelJson(r); break;
      case "Message": addMessage(stream, r); break;
      case "MessageIndex": stream.messageIndexRecords++; break;
      case "Metadata": stream.metadata.push({ name: r.name, metadata: Object.fromEntries(r.metadata) }); break;
      case "DataEnd": stream.sawDataEnd = true; break;
      case "Footer": stream.sawFooter = true; break;
    }
  }
  stream.done = reader.done();
  stream.truncated = !reader.done();
  stream.bytesRemaining = reader.bytesRemaining();
} catch (e) {
  stream.ok = false;
  stream.error = String(e?.message ?? e);
}
finish(stream);

// 2. Indexed reader: footer, summary (CRC checked by Initialize), chunk indexes, message indexes, chunk CRCs.
const indexed = { ok: true, error: null, ...newTally() };
try {
  const readable = {
    size: async () => BigInt(bytes.length),
    read: async (offset, length) => bytes.subarray(Number(offset), Number(offset + length)),
  };
  const reader = await McapIndexedReader.Initialize({ readable });
  for (const s of reader.schemasById.values()) indexed.schemas[s.id] = schemaJson(s);
  for (const c of reader.channelsById.values()) indexed.channels[c.id] = channelJson(c);
  indexed.profile = reader.header.profile;
  indexed.chunkIndexCount = reader.chunkIndexes.length;
  indexed.summaryCrc = reader.footer.summaryCrc;
  indexed.summaryCrcValidated = reader.footer.summaryCrc !== 0; // Initialize throws on a mismatch
  const st = reader.statistics;
  indexed.statistics = st && {
    messageCount: st.messageCount, schemaCount: st.schemaCount, channelCount: st.channelCount, chunkCount: st.chunkCount,
    metadataCount: st.metadataCount, messageStartTime: st.messageStartTime, messageEndTime: st.messageEndTime,
    channelMessageCounts: Object.fromEntries(st.channelMessageCounts),
  };
  indexed.metadata = [];
  for await (const md of reader.readMetadata()) indexed.metadata.push({ name: md.name, metadata: Object.fromEntries(md.metadata) });
  indexed.summaryOffsetOpcodes = [...reader.summaryOffsetsByOpcode.keys()].sort((a, b) => a - b);
  // Data-section CRC: bytes [0, DataEnd) against the DataEnd record.
  indexed.dataSectionCrc = reader.dataSectionCrc ?? 0;
  const actual = crc32(bytes.subarray(0, Number(reader.dataEndOffset)));
  indexed.dataSectionCrcValid = reader.dataSectionCrc !== undefined && actual === reader.dataSectionCrc;
  let lastLogTime = -1n;
  indexed.logTimeOrdered = true;
  for await (const m of reader.readMessages({ validateCrcs: true })) {
    if (m.logTime < lastLogTime) indexed.logTimeOrdered = false;
    lastLogTime = m.logTime;
    addMessage(indexed, m);
  }
} catch (e) {
  indexed.ok = false;
  indexed.error = String(e?.message ?? e);
}
finish(indexed);

process.stdout.write(JSON.stringify({ size: bytes.length, stream, indexed }, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) + "\n");
