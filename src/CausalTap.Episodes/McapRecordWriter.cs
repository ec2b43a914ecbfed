using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace CausalTap.Episodes;

/// <summary>One (log time, offset) entry of a MessageIndex record.</summary>
/// <param name="LogTime">Message log time, nanoseconds.</param>
/// <param name="Offset">Offset of the Message record from the start of the chunk's uncompressed records.</param>
public readonly record struct McapIndexEntry(ulong LogTime, ulong Offset);

/// <summary>Fields of a ChunkIndex record (summary section).</summary>
/// <param name="MessageStartTime">Earliest message log time in the chunk.</param>
/// <param name="MessageEndTime">Latest message log time in the chunk.</param>
/// <param name="ChunkStartOffset">File offset of the Chunk record's opcode.</param>
/// <param name="ChunkLength">Byte length of the whole Chunk record (opcode and length prefix included).</param>
/// <param name="MessageIndexOffsets">Channel id to file offset of that channel's MessageIndex record, sorted by channel id.</param>
/// <param name="MessageIndexLength">Total byte length of the MessageIndex records that follow the chunk.</param>
/// <param name="Compression">Compression of the chunk records; "" for none.</param>
/// <param name="CompressedSize">Byte length of the chunk's records as stored.</param>
/// <param name="UncompressedSize">Byte length of the chunk's records once uncompressed.</param>
public sealed record McapChunkIndex(
    ulong MessageStartTime,
    ulong MessageEndTime,
    ulong ChunkStartOffset,
    ulong ChunkLength,
    IReadOnlyList<KeyValuePair<ushort, ulong>> MessageIndexOffsets,
    ulong MessageIndexLength,
    string Compression,
    ulong CompressedSize,
    ulong UncompressedSize);

/// <summary>
/// Lowest layer of the MCAP writer: encodes one record at a time (opcode, u64 content length, fields) into an
/// <see cref="IBufferWriter{T}"/>. Integers are little-endian; strings and byte arrays carry a u32 length prefix,
/// maps and arrays a u32 byte-length prefix. Each <c>WriteX</c> returns the bytes it wrote. No ordering rules here.
/// </summary>
public sealed class McapRecordWriter(IBufferWriter<byte> output)
{
    /// <summary>The 8-byte magic that opens and closes every MCAP file: 0x89 "MCAP0\r\n".</summary>
    public static ReadOnlySpan<byte> Magic => [0x89, (byte)'M', (byte)'C', (byte)'A', (byte)'P', (byte)'0', (byte)'\r', (byte)'\n'];

    /// <summary>Opcode (1) + content length (8).</summary>
    public const int RecordPrefixLength = 9;

    private static readonly UTF8Encoding s_utf8 = new(false, true);

    private static int StringSize(string s) => 4 + s_utf8.GetByteCount(s);

    /// <summary>Byte length of a Map&lt;string,string&gt;'s entries (without its u32 length prefix).</summary>
    private static int StringMapSize(IReadOnlyList<KeyValuePair<string, string>> map)
    {
        var size = 0;
        foreach (var kv in map)
        {
            size += StringSize(kv.Key) + StringSize(kv.Value);
        }
        return size;
    }

    /// <summary>Writes the magic bytes.</summary>
    public int WriteMagic()
    {
        var span = output.GetSpan(Magic.Length);
        Magic.CopyTo(span);
        output.Advance(Magic.Length);
        return Magic.Length;
    }

    /// <summary>Header: profile string, library string. Must be the first record after the leading magic.</summary>
    public int WriteHeader(string profile, string library)
    {
        var c = Begin(McapOpcode.Header, StringSize(profile) + StringSize(library));
        c.String(profile);
        c.String(library);
        return End(ref c);
    }

    /// <summary>Schema: u16 id (never 0), name, encoding, u32-prefixed data.</summary>
    public int WriteSchema(ushort id, string name, string encoding, ReadOnlySpan<byte> data)
    {
        var c = Begin(McapOpcode.Schema, 2 + StringSize(name) + StringSize(encoding) + 4 + data.Length);
        c.U16(id);
        c.String(name);
        c.String(encoding);
        c.Bytes32(data);
        return End(ref c);
    }

    /// <summary>Channel: u16 id, u16 schema id (0 = schemaless), topic, message encoding, Map&lt;string,string&gt; metadata.</summary>
    public int WriteChannel(ushort id, ushort schemaId, string topic, string messageEncoding, IReadOnlyList<KeyValuePair<string, string>> metadata)
    {
        var mapSize = StringMapSize(metadata);
        var c = Begin(McapOpcode.Channel, 2 + 2 + StringSize(topic) + StringSize(messageEncoding) + 4 + mapSize);
        c.U16(id);
        c.U16(schemaId);
        c.String(topic);
        c.String(messageEncoding);
        c.StringMap(metadata, mapSize);
        return End(ref c);
    }

    /// <summary>Message: u16 channel id, u32 sequence, u64 log time, u64 publish time, then the data to the end of the record.</summary>
    public int WriteMessage(ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        var c = Begin(McapOpcode.Message, 2 + 4 + 8 + 8 + data.Length);
        c.U16(channelId);
        c.U32(sequence);
        c.U64(logTime);
        c.U64(publishTime);
        c.Raw(data);
        return End(ref c);
    }

    /// <summary>
    /// Chunk: u64 message start time, u64 message end time, u64 uncompressed size, u32 CRC of the uncompressed
    /// records (0 = not computed), compression string, u64-prefixed records.
    /// </summary>
    public int WriteChunk(ulong messageStartTime, ulong messageEndTime, ulong uncompressedSize, uint uncompressedCrc, string compression, ReadOnlySpan<byte> records)
    {
        var c = Begin(McapOpcode.Chunk, 8 + 8 + 8 + 4 + StringSize(compression) + 8 + records.Length);
        c.U64(messageStartTime);
        c.U64(messageEndTime);
        c.U64(uncompressedSize);
        c.U32(uncompressedCrc);
        c.String(compression);
        c.U64((ulong)records.Length);
        c.Raw(records);
        return End(ref c);
    }

    /// <summary>MessageIndex: u16 channel id, Array&lt;(u64 log time, u64 offset)&gt;.</summary>
    public int WriteMessageIndex(ushort channelId, IReadOnlyList<McapIndexEntry> entries)
    {
        var c = Begin(McapOpcode.MessageIndex, 2 + 4 + 16 * entries.Count);
        c.U16(channelId);
        c.U32((uint)(16 * entries.Count));
        foreach (var e in entries)
        {
            c.U64(e.LogTime);
            c.U64(e.Offset);
        }
        return End(ref c);
    }

    /// <summary>
    /// ChunkIndex: u64 start, u64 end, u64 chunk start offset, u64 chunk length, Map&lt;u16,u64&gt; message index
    /// offsets, u64 message index length, compression, u64 compressed size, u64 uncompressed size.
    /// </summary>
    public int WriteChunkIndex(McapChunkIndex index)
    {
        var mapSize = 10 * index.MessageIndexOffsets.Count;
        var c = Begin(McapOpcode.ChunkIndex, 8 * 4 + 4 + mapSize + 8 + StringSize(index.Compression) + 8 + 8);
        c.U64(index.MessageStartTime);
        c.U64(index.MessageEndTime);
        c.U64(index.ChunkStartOffset);
        c.U64(index.ChunkLength);
        c.U16U64Map(index.MessageIndexOffsets);
        c.U64(index.MessageIndexLength);
        c.String(index.Compression);
        c.U64(index.CompressedSize);
        c.U64(index.UncompressedSize);
        return End(ref c);
    }

    /// <summary>Metadata: name, Map&lt;string,string&gt; (data section, outside chunks).</summary>
    public int WriteMetadata(string name, IReadOnlyList<KeyValuePair<string, string>> metadata)
    {
        var mapSize = StringMapSize(metadata);
        var c = Begin(McapOpcode.Metadata, StringSize(name) + 4 + mapSize);
        c.String(name);
        c.StringMap(metadata, mapSize);
        return End(ref c);
    }

    /// <summary>MetadataIndex (summary): u64 offset of the Metadata record, u64 its length (whole record), name.</summary>
    public int WriteMetadataIndex(ulong offset, ulong length, string name)
    {
        var c = Begin(McapOpcode.MetadataIndex, 8 + 8 + StringSize(name));
        c.U64(offset);
        c.U64(length);
        c.String(name);
        return End(ref c);
    }

    /// <summary>
    /// Statistics: u64 message count, u16 schema count, u32 channel count, u32 attachment count, u32 metadata
    /// count, u32 chunk count, u64 message start time, u64 message end time, Map&lt;u16,u64&gt; per-channel message counts.
    /// </summary>
    public int WriteStatistics(ulong messageCount, ushort schemaCount, uint channelCount, uint chunkCount, ulong messageStartTime, ulong messageEndTime, IReadOnlyList<KeyValuePair<ushort, ulong>> channelMessageCounts, uint metadataCount = 0)
    {
        var mapSize = 10 * channelMessageCounts.Count;
        var c = Begin(McapOpcode.Statistics, 8 + 2 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + mapSize);
        c.U64(messageCount);
        c.U16(schemaCount);
        c.U32(channelCount);
        c.U32(0); // attachments
        c.U32(metadataCount);
        c.U32(chunkCount);
        c.U64(messageStartTime);
        c.U64(messageEndTime);
        c.U16U64Map(channelMessageCounts);
        return End(ref c);
    }

    /// <summary>SummaryOffset: u8 group opcode, u64 group start, u64 group length.</summary>
    public int WriteSummaryOffset(McapOpcode groupOpcode, ulong groupStart, ulong groupLength)
    {
        var c = Begin(McapOpcode.SummaryOffset, 1 + 8 + 8);
        c.U8((byte)groupOpcode);
        c.U64(groupStart);
        c.U64(groupLength);
        return End(ref c);
    }

    /// <summary>DataEnd: u32 CRC of every byte of the file before this record (0 = not computed).</summary>
    public int WriteDataEnd(uint dataSectionCrc)
    {
        var c = Begin(McapOpcode.DataEnd, 4);
        c.U32(dataSectionCrc);
        return End(ref c);
    }

    /// <summary>
    /// Footer: u64 summary start, u64 summary-offset start, u32 CRC of the summary section and of the footer up
    /// to (not including) this CRC field (0 = not computed).
    /// </summary>
    public int WriteFooter(ulong summaryStart, ulong summaryOffsetStart, uint summaryCrc)
    {
        var c = Begin(McapOpcode.Footer, 8 + 8 + 4);
        c.U64(summaryStart);
        c.U64(summaryOffsetStart);
        c.U32(summaryCrc);
        return End(ref c);
    }

    private Cursor Begin(McapOpcode opcode, int contentLength)
    {
        var total = RecordPrefixLength + contentLength;
        var c = new Cursor(output.GetSpan(total)[..total]);
        c.U8((byte)opcode);
        c.U64((ulong)contentLength);
        return c;
    }

    private int End(ref Cursor c)
    {
        if (c.Position != c.Span.Length)
        {
            throw new InvalidOperationException($"MCAP record size mismatch: wrote {c.Position} of {c.Span.Length} bytes.");
        }
        output.Advance(c.Position);
        return c.Position;
    }

    private ref struct Cursor(Span<byte> span)
    {
        public readonly Span<byte> Span = span;
        public int Position;

        public void U8(byte v) => Span[Position++] = v;

        public void U16(ushort v)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(Span[Position..], v);
            Position += 2;
        }

        public void U32(uint v)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(Span[Position..], v);
            Position += 4;
        }

        public void U64(ulong v)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(Span[Position..], v);
            Position += 8;
        }

        public void String(string s)
        {
            var n = s_utf8.GetBytes(s, Span[(Position + 4)..]);
            U32((uint)n);
            Position += n;
        }

        /// <summary>Map&lt;string,string&gt;: u32 byte length (<paramref name="size"/> = <see cref="StringMapSize"/>), then key, value pairs.</summary>
        public void StringMap(IReadOnlyList<KeyValuePair<string, string>> map, int size)
        {
            U32((uint)size);
            foreach (var kv in map)
            {
                String(kv.Key);
                String(kv.Value);
            }
        }

        /// <summary>Map&lt;u16,u64&gt;: u32 byte length (10 per entry), then key, value pairs.</summary>
        public void U16U64Map(IReadOnlyList<KeyValuePair<ushort, ulong>> map)
        {
            U32((uint)(10 * map.Count));
            foreach (var kv in map)
            {
                U16(kv.Key);
                U64(kv.Value);
            }
        }

        public void Bytes32(ReadOnlySpan<byte> data)
        {
            U32((uint)data.Length);
            Raw(data);
        }

        public void Raw(ReadOnlySpan<byte> data)
        {
            data.CopyTo(Span[Position..]);
            Position += data.Length;
        }
    }
}
