using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace CausalTap.Episodes;

/// <summary>A Schema record.</summary>
/// <param name="Id">Schema id (never 0).</param>
/// <param name="Name">Schema name, e.g. "foxglove.CompressedImage".</param>
/// <param name="Encoding">Schema encoding, e.g. "protobuf".</param>
/// <param name="Data">Schema data, e.g. a serialized FileDescriptorSet.</param>
public sealed record McapSchema(ushort Id, string Name, string Encoding, byte[] Data);

/// <summary>A Channel record.</summary>
/// <param name="Id">Channel id.</param>
/// <param name="SchemaId">Schema id, 0 for schemaless.</param>
/// <param name="Topic">Topic name.</param>
/// <param name="MessageEncoding">Message encoding, e.g. "protobuf".</param>
/// <param name="Metadata">Channel metadata.</param>
public sealed record McapChannel(ushort Id, ushort SchemaId, string Topic, string MessageEncoding, IReadOnlyDictionary<string, string> Metadata);

/// <summary>A Metadata record: a named string map.</summary>
/// <param name="Name">Record name, e.g. "causaltap.episode".</param>
/// <param name="Values">The map.</param>
public sealed record McapMetadata(string Name, IReadOnlyDictionary<string, string> Values);

/// <summary>A Message record.</summary>
/// <param name="ChannelId">Channel id.</param>
/// <param name="Sequence">Sequence number.</param>
/// <param name="LogTime">Log time, nanoseconds.</param>
/// <param name="PublishTime">Publish time, nanoseconds.</param>
/// <param name="Data">Message payload.</param>
public readonly record struct McapMessage(ushort ChannelId, uint Sequence, ulong LogTime, ulong PublishTime, ReadOnlyMemory<byte> Data);

/// <summary>
/// Small sequential MCAP reader: reads records in file order (chunks of uncompressed records included), validates
/// chunk, data-section and summary CRCs (a mismatch throws <see cref="InvalidDataException"/>), and tolerates a file
/// cut anywhere after the leading magic (a crashed recording): enumeration then ends after the last complete record
/// and <see cref="IsTruncated"/> is true. The summary is not needed. Metadata records are collected in
/// <see cref="Metadata"/> as they are passed.
/// </summary>
public sealed class McapReader(Stream stream)
{
    private readonly Dictionary<ushort, McapSchema> _schemas = [];
    private readonly Dictionary<ushort, McapChannel> _channels = [];
    private readonly List<McapMetadata> _metadata = [];
    private static readonly UTF8Encoding s_utf8 = new(false, true);

    /// <summary>Header profile (after the Header was read).</summary>
    public string? Profile { get; private set; }

    /// <summary>Header library (after the Header was read).</summary>
    public string? Library { get; private set; }

    /// <summary>Schemas seen so far, by id.</summary>
    public IReadOnlyDictionary<ushort, McapSchema> Schemas => _schemas;

    /// <summary>Channels seen so far, by id.</summary>
    public IReadOnlyDictionary<ushort, McapChannel> Channels => _channels;

    /// <summary>Metadata records seen so far, in file order.</summary>
    public IReadOnlyList<McapMetadata> Metadata => _metadata;

    /// <summary>Complete chunks read so far.</summary>
    public int ChunkCount { get; private set; }

    /// <summary>After enumeration: true when the file ended before the Footer and closing magic.</summary>
    public bool IsTruncated { get; private set; }

    /// <summary>True when a DataEnd record carried a non-zero data-section CRC and it matched.</summary>
    public bool DataSectionCrcValidated { get; private set; }

    /// <summary>True when the Footer carried a non-zero summary CRC and it matched.</summary>
    public bool SummaryCrcValidated { get; private set; }

    /// <summary>Reads the file once, yielding every message in file order.</summary>
    public IEnumerable<McapMessage> ReadMessages()
    {
        IsTruncated = true;
        var magic = new byte[8];
        int got = stream.ReadAtLeast(magic, 8, throwOnEndOfStream: false);
        if (got < 8)
        {
            // Not even the magic: nothing was ever recorded here (an empty file is no episode, not an empty one).
            throw new InvalidDataException($"Not an MCAP file: {got} bytes, shorter than the 8-byte MCAP magic.");
        }
        if (!magic.AsSpan().SequenceEqual(McapRecordWriter.Magic))
        {
            throw new InvalidDataException("Not an MCAP file (bad magic).");
        }
        var crc = new Crc32();              // every byte read before DataEnd
        crc.Append(magic);
        var summaryCrc = new Crc32();       // every byte read after DataEnd
        var afterDataEnd = false;
        var prefix = new byte[McapRecordWriter.RecordPrefixLength];
        while (true)
        {
            if (stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false) < prefix.Length)
            {
                yield break;
            }
            var opcode = (McapOpcode)prefix[0];
            var length = BinaryPrimitives.ReadUInt64LittleEndian(prefix.AsSpan(1));
            if (length > int.MaxValue - 64)
            {
                throw new InvalidDataException($"MCAP record {opcode} too long ({length} bytes).");
            }
            var content = new byte[(int)length];
            if (stream.ReadAtLeast(content, content.Length, throwOnEndOfStream: false) < content.Length)
            {
                yield break;
            }
            var p = new Parser(content);
            switch (opcode)
            {
                case McapOpcode.DataEnd:
                    var expected = p.U32();
                    if (expected != 0)
                    {
                        var actualData = crc.GetCurrentHashAsUInt32();
                        if (expected != actualData)
                        {
                            throw new InvalidDataException($"MCAP data-section CRC mismatch: {actualData:x8}, expected {expected:x8}.");
                        }
                        DataSectionCrcValidated = true;
                    }
                    afterDataEnd = true;
                    continue;
                case McapOpcode.Footer:
                    p.U64();
                    p.U64();
                    var expectedSummary = p.U32();
                    if (expectedSummary != 0)
                    {
                        summaryCrc.Append(prefix);
                        summaryCrc.Append(content.AsSpan(0, 16));
                        var actual = summaryCrc.GetCurrentHashAsUInt32();
                        if (actual != expectedSummary)
                        {
                            throw new InvalidDataException($"MCAP summary CRC mismatch: {actual:x8}, expected {expectedSummary:x8}.");
                        }
                        SummaryCrcValidated = true;
                    }
                    if (stream.ReadAtLeast(magic, 8, throwOnEndOfStream: false) < 8)
                    {
                        yield break;
                    }
                    if (!magic.AsSpan().SequenceEqual(McapRecordWriter.Magic))
                    {
                        throw new InvalidDataException("MCAP file does not end with the magic.");
                    }
                    IsTruncated = false;
                    yield break;
            }
            if (afterDataEnd)
            {
                summaryCrc.Append(prefix);
                summaryCrc.Append(content);
                continue; // summary records repeat what the data section held
            }
            crc.Append(prefix);
            crc.Append(content);
            switch (opcode)
            {
                case McapOpcode.Header:
                    Profile = p.String();
                    Library = p.String();
                    break;
                case McapOpcode.Chunk:
                    foreach (var m in ReadChunk(p))
                    {
                        yield return m;
                    }
                    ChunkCount++;
                    break;
                default:
                    if (Handle(opcode, p) is { } message)
                    {
                        yield return message;
                    }
                    break;
            }
        }
    }

    private List<McapMessage> ReadChunk(Parser p)
    {
        p.U64(); // message start time
        p.U64(); // message end time
        var uncompressedSize = p.U64();
        var expectedCrc = p.U32();
        var compression = p.String();
        var recordsLength = p.U64();
        if (compression.Length != 0)
        {
            throw new NotSupportedException($"MCAP chunk compression '{compression}' is not supported.");
        }
        if (recordsLength != uncompressedSize || recordsLength > (ulong)(p.Data.Length - p.Position))
        {
            throw new InvalidDataException("MCAP chunk sizes are inconsistent.");
        }
        var records = p.Data.AsMemory(p.Position, (int)recordsLength);
        if (expectedCrc != 0 && Crc32.HashToUInt32(records.Span) != expectedCrc)
        {
            throw new InvalidDataException($"MCAP chunk CRC mismatch (expected {expectedCrc:x8}).");
        }
        var messages = new List<McapMessage>();
        var inner = new Parser(p.Data, p.Position, p.Position + (int)recordsLength);
        while (inner.Position < inner.End)
        {
            var opcode = (McapOpcode)inner.U8();
            var length = inner.U64();
            if (length > (ulong)(inner.End - inner.Position))
            {
                throw new InvalidDataException("MCAP record overruns its chunk.");
            }
            var record = new Parser(p.Data, inner.Position, inner.Position + (int)length);
            inner.Position += (int)length;
            if (Handle(opcode, record) is { } message)
            {
                messages.Add(message);
            }
        }
        return messages;
    }

    private McapMessage? Handle(McapOpcode opcode, Parser p)
    {
        switch (opcode)
        {
            case McapOpcode.Schema:
                var schema = new McapSchema(p.U16(), p.String(), p.String(), p.Bytes32());
                _schemas[schema.Id] = schema;
                return null;
            case McapOpcode.Channel:
                var id = p.U16();
                var schemaId = p.U16();
                var topic = p.String();
                var encoding = p.String();
                var mapEnd = (int)p.U32() + p.Position;
                var meta = new Dictionary<string, string>();
                while (p.Position < mapEnd)
                {
                    meta[p.String()] = p.String();
                }
                _channels[id] = new McapChannel(id, schemaId, topic, encoding, meta);
                return null;
            case McapOpcode.Metadata:
                _metadata.Add(ParseMetadata(p));
                return null;
            case McapOpcode.Message:
                var channelId = p.U16();
                var sequence = p.U32();
                var logTime = p.U64();
                var publishTime = p.U64();
                return new McapMessage(channelId, sequence, logTime, publishTime, p.Data.AsMemory(p.Position, p.End - p.Position));
            default:
                return null;
        }
    }

    /// <summary>Fields of a Metadata record: name, Map&lt;string,string&gt;.</summary>
    internal static McapMetadata ParseMetadata(Parser p)
    {
        var name = p.String();
        var mapEnd = (int)p.U32() + p.Position;
        var values = new Dictionary<string, string>();
        while (p.Position < mapEnd)
        {
            values[p.String()] = p.String();
        }
        return new McapMetadata(name, values);
    }

    /// <summary>Reads little-endian MCAP fields from a byte range; a field past the range is <see cref="InvalidDataException"/>.</summary>
    internal sealed class Parser(byte[] data, int start, int end)
    {
        public Parser(byte[] data) : this(data, 0, data.Length) { }

        public byte[] Data { get; } = data;
        public int Position { get; set; } = start;
        public int End { get; } = end;

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > End - Position)
            {
                throw new InvalidDataException("MCAP record is shorter than its fields.");
            }
            var span = Data.AsSpan(Position, n);
            Position += n;
            return span;
        }

        public byte U8() => Take(1)[0];
        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
        public string String() => s_utf8.GetString(Take(checked((int)U32())));
        public byte[] Bytes32() => Take(checked((int)U32())).ToArray();
    }
}
