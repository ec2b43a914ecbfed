using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;

namespace CausalTap.Episodes;

/// <summary>Settings of an <see cref="McapWriter"/>.</summary>
public sealed record McapWriterOptions
{
    /// <summary>Header profile; "" for none. CausalTap episodes use "causaltap".</summary>
    public string Profile { get; init; } = "causaltap";

    /// <summary>Header library string.</summary>
    public string Library { get; init; } = "causaltap-episodes";

    /// <summary>A chunk closes once its records reach this many bytes (default 1 MiB).</summary>
    public int ChunkSize { get; init; } = 1 << 20;

    /// <summary>
    /// A chunk also closes before a message whose log time is this far past the chunk's first message, which bounds
    /// how much recording a crash can lose at a low message rate (default 1 s; null: size only). Call
    /// <see cref="McapWriter.FlushChunk"/> from a timer to bound it in wall-clock time when messages stop arriving.
    /// </summary>
    public TimeSpan? MaxChunkDuration { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Also ask the OS to write each chunk to the disk (fsync) when the stream is a <see cref="FileStream"/>.</summary>
    public bool FlushToDisk { get; init; }
}

/// <summary>One message of <see cref="McapWriter.WriteMessageGroup"/> (times in ns since the epoch; sequence null = the channel's counter).</summary>
public readonly record struct McapOutgoingMessage(ushort ChannelId, ulong LogTime, ulong PublishTime, ReadOnlyMemory<byte> Data, uint? Sequence = null);

/// <summary>
/// Writes an MCAP file to a stream: leading magic and Header, then chunks of uncompressed records, each followed by
/// its MessageIndex records (and Metadata records between chunks), then on <see cref="Complete"/> DataEnd
/// (data-section CRC), the summary (Schemas, Channels, Statistics, ChunkIndexes, MetadataIndexes), SummaryOffsets, Footer (summary CRC) and the closing magic.
/// <para>Crash tolerance: a chunk is written to the stream as one write and flushed when it closes, so a file cut
/// after any closed chunk (process killed, no summary) is still readable record by record up to that chunk.</para>
/// <para>Schema and channel registration only assigns an id; the records are written into the chunk the first time
/// a message uses them, and repeated in the summary.</para>
/// <para>Not thread-safe: one owner (e.g. a recorder task fed through a channel) must make all calls; overlapping
/// calls are detected and throw.</para>
/// </summary>
public sealed class McapWriter : IDisposable
{
    private const string Compression = "";

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly McapWriterOptions _options;
    private readonly ulong _maxChunkDurationNs;
    private readonly ArrayBufferWriter<byte> _stage = new(4096);
    private readonly McapRecordWriter _stageRecords;
    private readonly McapChunkBuilder _chunk;
    private readonly List<SchemaInfo> _schemas = [];
    private readonly List<ChannelInfo> _channels = [];
    private readonly List<McapChunkIndex> _chunkIndexes = [];
    private readonly List<(ulong Offset, ulong Length, string Name)> _metadataIndexes = [];
    private long _position;
    private readonly Crc32 _dataCrc = new();   // running CRC of the data section (MCAP DataEnd)
    private bool _dataEnded;
    private bool _completed;
    private bool _disposed;
    private int _busy;
    private ulong _messageCount;
    private ulong _messageStartTime;
    private ulong _messageEndTime;

    /// <summary>Starts a file on <paramref name="stream"/>: writes and flushes the magic and the Header.</summary>
    public McapWriter(Stream stream, McapWriterOptions? options = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The stream must be writable.", nameof(stream));
        }
        _stream = stream;
        _leaveOpen = leaveOpen;
        _options = options ?? new McapWriterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.ChunkSize, 1, "options.ChunkSize");
        if (_options.MaxChunkDuration is { } d)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(d, TimeSpan.Zero, "options.MaxChunkDuration");
            _maxChunkDurationNs = (ulong)d.Ticks * 100;
        }
        _stageRecords = new McapRecordWriter(_stage);
        _chunk = new McapChunkBuilder(Math.Min(_options.ChunkSize + 4096, 64 << 20));
        _stageRecords.WriteMagic();
        _stageRecords.WriteHeader(_options.Profile, _options.Library);
        Emit(flush: true);
    }

    /// <summary>Bytes written to the stream so far.</summary>
    public long Position => _position;

    /// <summary>Messages written so far.</summary>
    public ulong MessageCount => _messageCount;

    /// <summary>Chunks written to the stream so far.</summary>
    public int ChunkCount => _chunkIndexes.Count;

    /// <summary>Index records of the chunks written so far (also written to the summary).</summary>
    public IReadOnlyList<McapChunkIndex> ChunkIndexes => _chunkIndexes;

    /// <summary>True once <see cref="Complete"/> has run.</summary>
    public bool IsCompleted => _completed;

    /// <summary>
    /// Registers a schema (e.g. name "foxglove.CompressedImage", encoding "protobuf", data = a serialized
    /// google.protobuf.FileDescriptorSet) and returns its id (1, 2, ...). Nothing is written yet.
    /// </summary>
    public ushort RegisterSchema(string name, string encoding, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(encoding);
        using var _ = Enter();
        if (_schemas.Count >= ushort.MaxValue)
        {
            throw new InvalidOperationException("Too many schemas.");
        }
        _schemas.Add(new SchemaInfo((ushort)(_schemas.Count + 1), name, encoding, data.ToArray()));
        return (ushort)_schemas.Count;
    }

    /// <summary>
    /// Registers a channel on <paramref name="topic"/> with a registered schema (0: schemaless) and returns its id
    /// (0, 1, ...). Nothing is written yet.
    /// </summary>
    public ushort RegisterChannel(ushort schemaId, string topic, string messageEncoding = "protobuf", IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(messageEncoding);
        using var _ = Enter();
        if (schemaId > _schemas.Count)
        {
            throw new ArgumentException($"Unknown schema id {schemaId}.", nameof(schemaId));
        }
        if (_channels.Count > ushort.MaxValue)
        {
            throw new InvalidOperationException("Too many channels.");
        }
        var meta = (metadata ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
        var id = (ushort)_channels.Count;
        _channels.Add(new ChannelInfo(id, schemaId, topic, messageEncoding, meta));
        return id;
    }

    /// <summary>
    /// Adds a message to the current chunk (log and publish times in nanoseconds since the epoch). The sequence
    /// defaults to a per-channel counter. Closes the chunk first when <see cref="McapWriterOptions.MaxChunkDuration"/>
    /// has passed, and after the message when it reached <see cref="McapWriterOptions.ChunkSize"/>.
    /// </summary>
    public void WriteMessage(ushort channelId, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data, uint? sequence = null)
    {
        using var _ = Enter();
        CheckChannel(channelId);
        CloseChunkIfDue(logTime);
        Append(channelId, logTime, publishTime, data, sequence);
        CloseChunkIfFull();
    }

    /// <summary>
    /// Adds messages that must land in the same chunk, so a file cut by a crash holds all of them or none (e.g. a
    /// camera frame and the update computed from it). The chunk limits are checked once: the duration before the
    /// group (against its latest log time), the size after it.
    /// </summary>
    public void WriteMessageGroup(ReadOnlySpan<McapOutgoingMessage> messages)
    {
        using var _ = Enter();
        ulong latest = 0;
        foreach (var m in messages)
        {
            CheckChannel(m.ChannelId);
            latest = Math.Max(latest, m.LogTime);
        }
        if (messages.Length == 0)
        {
            return;
        }
        CloseChunkIfDue(latest);
        foreach (var m in messages)
        {
            Append(m.ChannelId, m.LogTime, m.PublishTime, m.Data.Span, m.Sequence);
        }
        CloseChunkIfFull();
    }

    private void CheckChannel(ushort channelId)
    {
        if (channelId >= _channels.Count)
        {
            throw new ArgumentException($"Unknown channel id {channelId}: register the channel first.", nameof(channelId));
        }
    }

    private void CloseChunkIfDue(ulong logTime)
    {
        if (_chunk.MessageCount > 0 && _maxChunkDurationNs > 0 && logTime > _chunk.MessageStartTime &&
            logTime - _chunk.MessageStartTime >= _maxChunkDurationNs)
        {
            CloseChunk();
        }
    }

    private void CloseChunkIfFull()
    {
        if (_chunk.Length >= _options.ChunkSize)
        {
            CloseChunk();
        }
    }

    private void Append(ushort channelId, ulong logTime, ulong publishTime, ReadOnlySpan<byte> data, uint? sequence)
    {
        var channel = _channels[channelId];
        if (!channel.Written)
        {
            if (channel.SchemaId != 0)
            {
                var schema = _schemas[channel.SchemaId - 1];
                if (!schema.Written)
                {
                    _chunk.AddSchema(schema.Id, schema.Name, schema.Encoding, schema.Data);
                    schema.Written = true;
                }
            }
            _chunk.AddChannel(channel.Id, channel.SchemaId, channel.Topic, channel.MessageEncoding, channel.Metadata);
            channel.Written = true;
        }
        var seq = sequence ?? channel.NextSequence;
        channel.NextSequence = seq + 1;
        _chunk.AddMessage(channelId, seq, logTime, publishTime, data);
        channel.MessageCount++;
        if (_messageCount == 0 || logTime < _messageStartTime)
        {
            _messageStartTime = logTime;
        }
        if (_messageCount == 0 || logTime > _messageEndTime)
        {
            _messageEndTime = logTime;
        }
        _messageCount++;
    }

    /// <summary>
    /// Writes a Metadata record (a named string map, e.g. "causaltap.episode") to the data section and flushes it.
    /// Metadata records live outside chunks, so the current chunk is closed first; the summary gets a MetadataIndex.
    /// </summary>
    public void WriteMetadata(string name, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(metadata);
        using var _ = Enter();
        CloseChunk();
        var offset = (ulong)_position;
        var length = _stageRecords.WriteMetadata(name, metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToArray());
        _metadataIndexes.Add((offset, (ulong)length, name));
        Emit(flush: true);
    }

    /// <summary>Closes the current chunk now (if it holds messages): writes it and its indexes and flushes the stream.</summary>
    public void FlushChunk()
    {
        using var _ = Enter();
        CloseChunk();
    }

    /// <summary>
    /// Ends the file: closes the last chunk, writes DataEnd, the summary, SummaryOffsets, Footer and the closing
    /// magic, and flushes. Any later write throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public void Complete()
    {
        using var _ = Enter();
        CloseChunk();
        _completed = true;

        _stageRecords.WriteDataEnd(_dataCrc.GetCurrentHashAsUInt32());
        Emit(flush: false);
        _dataEnded = true;

        var summaryStart = (ulong)_position;
        var offsets = new List<(McapOpcode Op, ulong Start, ulong Length)>();
        void Group(McapOpcode op, Action write)
        {
            var start = _stage.WrittenCount;
            write();
            if (_stage.WrittenCount > start)
            {
                offsets.Add((op, summaryStart + (ulong)start, (ulong)(_stage.WrittenCount - start)));
            }
        }
        var writtenSchemas = _schemas.Where(s => s.Written).ToList();
        var writtenChannels = _channels.Where(c => c.Written).ToList();
        Group(McapOpcode.Schema, () => writtenSchemas.ForEach(s => _stageRecords.WriteSchema(s.Id, s.Name, s.Encoding, s.Data)));
        Group(McapOpcode.Channel, () => writtenChannels.ForEach(c => _stageRecords.WriteChannel(c.Id, c.SchemaId, c.Topic, c.MessageEncoding, c.Metadata)));
        Group(McapOpcode.Statistics, () => _stageRecords.WriteStatistics(
            _messageCount, (ushort)writtenSchemas.Count, (uint)writtenChannels.Count, (uint)_chunkIndexes.Count,
            _messageStartTime, _messageEndTime,
            writtenChannels.Select(c => KeyValuePair.Create(c.Id, c.MessageCount)).ToList(), (uint)_metadataIndexes.Count));
        Group(McapOpcode.ChunkIndex, () => _chunkIndexes.ForEach(ci => _stageRecords.WriteChunkIndex(ci)));
        Group(McapOpcode.MetadataIndex, () => _metadataIndexes.ForEach(m => _stageRecords.WriteMetadataIndex(m.Offset, m.Length, m.Name)));

        var summaryOffsetStart = summaryStart + (ulong)_stage.WrittenCount;
        foreach (var (op, start, length) in offsets)
        {
            _stageRecords.WriteSummaryOffset(op, start, length);
        }

        // Summary CRC: from the summary start through the footer's summary-offset-start field.
        Span<byte> footerPrefix = stackalloc byte[McapRecordWriter.RecordPrefixLength + 16];
        footerPrefix[0] = (byte)McapOpcode.Footer;
        BinaryPrimitives.WriteUInt64LittleEndian(footerPrefix[1..], 20);
        BinaryPrimitives.WriteUInt64LittleEndian(footerPrefix[9..], summaryStart);
        BinaryPrimitives.WriteUInt64LittleEndian(footerPrefix[17..], summaryOffsetStart);
        var summary = new Crc32();
        summary.Append(_stage.WrittenSpan);
        summary.Append(footerPrefix);
        var summaryCrc = summary.GetCurrentHashAsUInt32();
        _stageRecords.WriteFooter(summaryStart, summaryOffsetStart, summaryCrc);
        _stageRecords.WriteMagic();
        Emit(flush: true);
    }

    /// <summary>Completes the file if that has not happened yet, then closes the stream unless told to leave it open.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        try
        {
            if (!_completed)
            {
                Complete();
            }
        }
        finally
        {
            _disposed = true;
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }

    private void CloseChunk()
    {
        if (_chunk.MessageCount == 0)
        {
            return;
        }
        var records = _chunk.Records;
        var chunkStart = (ulong)_position;
        var chunkLength = (ulong)_stageRecords.WriteChunk(
            _chunk.MessageStartTime, _chunk.MessageEndTime, (ulong)records.Length, Crc32.HashToUInt32(records), Compression, records);
        var indexOffsets = new List<KeyValuePair<ushort, ulong>>();
        ulong indexLength = 0;
        foreach (var (channelId, entries) in _chunk.Indexes)
        {
            indexOffsets.Add(KeyValuePair.Create(channelId, chunkStart + chunkLength + indexLength));
            indexLength += (ulong)_stageRecords.WriteMessageIndex(channelId, entries);
        }
        _chunkIndexes.Add(new McapChunkIndex(
            _chunk.MessageStartTime, _chunk.MessageEndTime, chunkStart, chunkLength, indexOffsets, indexLength,
            Compression, (ulong)records.Length, (ulong)records.Length));
        _chunk.Reset();
        Emit(flush: true);
    }

    /// <summary>Writes the staged bytes to the stream in one call, keeping the position and data-section CRC.</summary>
    private void Emit(bool flush)
    {
        var bytes = _stage.WrittenSpan;
        if (!_dataEnded)
        {
            _dataCrc.Append(bytes);
        }
        _stream.Write(bytes);
        _position += bytes.Length;
        _stage.ResetWrittenCount();
        if (flush)
        {
            if (_options.FlushToDisk && _stream is FileStream fs)
            {
                fs.Flush(flushToDisk: true);
            }
            else
            {
                _stream.Flush();
            }
        }
    }

    private Guard Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            throw new InvalidOperationException("The MCAP writer is complete; no more records can be written.");
        }
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException("Overlapping calls on an McapWriter: it must have a single owner.");
        }
        return new Guard(this);
    }

    private readonly struct Guard(McapWriter writer) : IDisposable
    {
        public void Dispose() => Volatile.Write(ref writer._busy, 0);
    }

    private sealed class SchemaInfo(ushort id, string name, string encoding, byte[] data)
    {
        public ushort Id { get; } = id;
        public string Name { get; } = name;
        public string Encoding { get; } = encoding;
        public byte[] Data { get; } = data;
        public bool Written { get; set; }
    }

    private sealed class ChannelInfo(ushort id, ushort schemaId, string topic, string messageEncoding, KeyValuePair<string, string>[] metadata)
    {
        public ushort Id { get; } = id;
        public ushort SchemaId { get; } = schemaId;
        public string Topic { get; } = topic;
        public string MessageEncoding { get; } = messageEncoding;
        public KeyValuePair<string, string>[] Metadata { get; } = metadata;
        public bool Written { get; set; }
        public uint NextSequence { get; set; }
        public ulong MessageCount { get; set; }
    }
}
