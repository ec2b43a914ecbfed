using System.Buffers.Binary;
using System.IO.Hashing;

namespace CausalTap.Episodes;

/// <summary>Statistics record of an MCAP summary.</summary>
/// <param name="MessageCount">Messages in the file.</param>
/// <param name="ChunkCount">Chunks in the file.</param>
/// <param name="MetadataCount">Metadata records in the file.</param>
/// <param name="MessageStartTime">Earliest message log time, nanoseconds.</param>
/// <param name="MessageEndTime">Latest message log time, nanoseconds.</param>
/// <param name="ChannelMessageCounts">Messages per channel id.</param>
public sealed record McapStatistics(ulong MessageCount, uint ChunkCount, uint MetadataCount, ulong MessageStartTime, ulong MessageEndTime,
                                    IReadOnlyDictionary<ushort, ulong> ChannelMessageCounts);

/// <summary>A MetadataIndex record: where a Metadata record is.</summary>
/// <param name="Offset">File offset of the Metadata record.</param>
/// <param name="Length">Byte length of the whole record.</param>
/// <param name="Name">The record's name.</param>
public sealed record McapMetadataIndex(ulong Offset, ulong Length, string Name);

/// <summary>What the summary section of a complete MCAP file says (no message is read).</summary>
public sealed class McapSummary
{
    /// <summary>Schemas by id.</summary>
    public Dictionary<ushort, McapSchema> Schemas { get; } = [];

    /// <summary>Channels by id.</summary>
    public Dictionary<ushort, McapChannel> Channels { get; } = [];

    /// <summary>The Statistics record, when the summary has one.</summary>
    public McapStatistics? Statistics { get; internal set; }

    /// <summary>MetadataIndex records, in summary order.</summary>
    public List<McapMetadataIndex> MetadataIndexes { get; } = [];

    /// <summary>
    /// Reads the Footer and the summary section of <paramref name="stream"/> (seekable). Returns null when the file
    /// has no usable summary: too short, no closing magic (a crashed recording) or a Footer without a summary.
    /// A summary whose CRC does not match throws <see cref="InvalidDataException"/>.
    /// </summary>
    public static McapSummary? TryRead(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        const int footerRecordLength = McapRecordWriter.RecordPrefixLength + 20;
        var length = stream.Length;
        if (length < 8 + footerRecordLength + 8)
        {
            return null;
        }
        var tail = new byte[footerRecordLength + 8];
        stream.Position = length - tail.Length;
        stream.ReadExactly(tail);
        if (!tail.AsSpan(footerRecordLength).SequenceEqual(McapRecordWriter.Magic) || tail[0] != (byte)McapOpcode.Footer)
        {
            return null;
        }
        var summaryStart = BinaryPrimitives.ReadUInt64LittleEndian(tail.AsSpan(9));
        var summaryCrc = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(25));
        var footerStart = length - tail.Length;
        if (summaryStart == 0 || summaryStart > (ulong)footerStart)
        {
            return null;
        }
        var summaryBytes = new byte[footerStart - (long)summaryStart];
        stream.Position = (long)summaryStart;
        stream.ReadExactly(summaryBytes);
        if (summaryCrc != 0)
        {
            // The CRC covers the summary section and the Footer up to its own CRC field.
            var crc = new Crc32();
            crc.Append(summaryBytes);
            crc.Append(tail.AsSpan(0, footerRecordLength - 4));
            var actual = crc.GetCurrentHashAsUInt32();
            if (actual != summaryCrc)
            {
                throw new InvalidDataException($"MCAP summary CRC mismatch: {actual:x8}, expected {summaryCrc:x8}.");
            }
        }

        var summary = new McapSummary();
        var p = new McapReader.Parser(summaryBytes);
        while (p.Position < p.End)
        {
            var opcode = (McapOpcode)p.U8();
            var recordLength = p.U64();
            if (recordLength > (ulong)(p.End - p.Position))
            {
                throw new InvalidDataException("MCAP summary record overruns the summary section.");
            }
            var r = new McapReader.Parser(summaryBytes, p.Position, p.Position + (int)recordLength);
            p.Position += (int)recordLength;
            switch (opcode)
            {
                case McapOpcode.Schema:
                    var schema = new McapSchema(r.U16(), r.String(), r.String(), r.Bytes32());
                    summary.Schemas[schema.Id] = schema;
                    break;
                case McapOpcode.Channel:
                    var id = r.U16();
                    var schemaId = r.U16();
                    var topic = r.String();
                    var encoding = r.String();
                    var mapEnd = (int)r.U32() + r.Position;
                    var meta = new Dictionary<string, string>();
                    while (r.Position < mapEnd)
                    {
                        meta[r.String()] = r.String();
                    }
                    summary.Channels[id] = new McapChannel(id, schemaId, topic, encoding, meta);
                    break;
                case McapOpcode.Statistics:
                    var messageCount = r.U64();
                    r.U16(); // schemas
                    r.U32(); // channels
                    r.U32(); // attachments
                    var metadataCount = r.U32();
                    var chunkCount = r.U32();
                    var start = r.U64();
                    var end = r.U64();
                    var countsEnd = (int)r.U32() + r.Position;
                    var counts = new Dictionary<ushort, ulong>();
                    while (r.Position < countsEnd)
                    {
                        counts[r.U16()] = r.U64();
                    }
                    summary.Statistics = new McapStatistics(messageCount, chunkCount, metadataCount, start, end, counts);
                    break;
                case McapOpcode.MetadataIndex:
                    summary.MetadataIndexes.Add(new McapMetadataIndex(r.U64(), r.U64(), r.String()));
                    break;
            }
        }
        return summary;
    }

    /// <summary>Reads the Metadata record that <paramref name="index"/> points at.</summary>
    public static McapMetadata ReadMetadata(Stream stream, McapMetadataIndex index)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(index);
        if (index.Length < McapRecordWriter.RecordPrefixLength || index.Length > int.MaxValue ||
            index.Offset + index.Length > (ulong)stream.Length)
        {
            throw new InvalidDataException($"MCAP MetadataIndex '{index.Name}' points outside the file.");
        }
        var record = new byte[(int)index.Length];
        stream.Position = (long)index.Offset;
        stream.ReadExactly(record);
        if (record[0] != (byte)McapOpcode.Metadata)
        {
            throw new InvalidDataException($"MCAP MetadataIndex '{index.Name}' does not point at a Metadata record.");
        }
        return McapReader.ParseMetadata(new McapReader.Parser(record, McapRecordWriter.RecordPrefixLength, record.Length));
    }
}
