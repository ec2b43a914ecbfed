using System.Buffers;

namespace CausalTap.Episodes;

/// <summary>
/// Collects the records of one chunk (schema, channel and message records, uncompressed), a per-channel message
/// index of (log time, offset in chunk) pairs and the chunk's message time range. Reused after <see cref="Reset"/>.
/// </summary>
public sealed class McapChunkBuilder
{
    private readonly ArrayBufferWriter<byte> _buffer;
    private readonly McapRecordWriter _records;
    private readonly SortedDictionary<ushort, List<McapIndexEntry>> _indexes = [];

    /// <summary>Creates a builder with room for about <paramref name="initialCapacity"/> bytes of records.</summary>
    public McapChunkBuilder(int initialCapacity = 1 << 20)
    {
        _buffer = new ArrayBufferWriter<byte>(Math.Max(256, initialCapacity));
        _records = new McapRecordWriter(_buffer);
    }

    /// <summary>Earliest message log time in the chunk (0 while empty).</summary>
    public ulong MessageStartTime { get; private set; }

    /// <summary>Latest message log time in the chunk (0 while empty).</summary>
    public ulong MessageEndTime { get; private set; }

    /// <summary>Number of message records in the chunk.</summary>
    public int MessageCount { get; private set; }

    /// <summary>Byte length of the chunk's records so far.</summary>
    public int Length => _buffer.WrittenCount;

    /// <summary>The chunk's records (valid until the next write or <see cref="Reset"/>).</summary>
    public ReadOnlySpan<byte> Records => _buffer.WrittenSpan;

    /// <summary>Per-channel message indexes, by ascending channel id.</summary>
    public IEnumerable<KeyValuePair<ushort, List<McapIndexEntry>>> Indexes => _indexes;

    /// <summary>Adds a Schema record.</summary>
    public void AddSchema(ushort id, string name, string encoding, ReadOnlySpan<byte> data) => _records.WriteSchema(id, name, encoding, data);

    /// <summary>Adds a Channel record.</summary>
    public void AddChannel(ushort id, ushort schemaId, string topic, string messageEncoding, IReadOnlyList<KeyValuePair<string, string>> metadata) =>
        _records.WriteChannel(id, schemaId, topic, messageEncoding, metadata);

    /// <summary>Adds a Message record and indexes it.</summary>
    public void AddMessage(ushort channelId, uint sequence, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data)
    {
        var offset = (ulong)_buffer.WrittenCount;
        _records.WriteMessage(channelId, sequence, logTime, publishTime, data);
        if (!_indexes.TryGetValue(channelId, out var list))
        {
            list = [];
            _indexes.Add(channelId, list);
        }
        list.Add(new McapIndexEntry(logTime, offset));
        if (MessageCount == 0 || logTime < MessageStartTime)
        {
            MessageStartTime = logTime;
        }
        if (MessageCount == 0 || logTime > MessageEndTime)
        {
            MessageEndTime = logTime;
        }
        MessageCount++;
    }

    /// <summary>Empties the builder for the next chunk.</summary>
    public void Reset()
    {
        _buffer.ResetWrittenCount();
        _indexes.Clear();
        MessageStartTime = 0;
        MessageEndTime = 0;
        MessageCount = 0;
    }
}
