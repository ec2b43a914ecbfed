namespace CausalTap.Episodes;

/// <summary>MCAP record opcodes (the first byte of every record).</summary>
public enum McapOpcode : byte
{
    /// <summary>Header: profile, library. First record of a file.</summary>
    Header = 0x01,
    /// <summary>Footer: summary start, summary-offset start, summary CRC. Last record before the closing magic.</summary>
    Footer = 0x02,
    /// <summary>Schema: id, name, encoding, data.</summary>
    Schema = 0x03,
    /// <summary>Channel: id, schema id, topic, message encoding, metadata.</summary>
    Channel = 0x04,
    /// <summary>Message: channel id, sequence, log time, publish time, data.</summary>
    Message = 0x05,
    /// <summary>Chunk: a batch of schema/channel/message records.</summary>
    Chunk = 0x06,
    /// <summary>MessageIndex: (log time, offset in chunk) pairs of one channel for the preceding chunk.</summary>
    MessageIndex = 0x07,
    /// <summary>ChunkIndex (summary): where a chunk and its message indexes are.</summary>
    ChunkIndex = 0x08,
    /// <summary>Attachment (not written by this library).</summary>
    Attachment = 0x09,
    /// <summary>AttachmentIndex (not written by this library).</summary>
    AttachmentIndex = 0x0A,
    /// <summary>Statistics (summary): counts and time range.</summary>
    Statistics = 0x0B,
    /// <summary>Metadata: a named string map (data section, outside chunks).</summary>
    Metadata = 0x0C,
    /// <summary>MetadataIndex (summary): where a Metadata record is.</summary>
    MetadataIndex = 0x0D,
    /// <summary>SummaryOffset: where one group of summary records is.</summary>
    SummaryOffset = 0x0E,
    /// <summary>DataEnd: closes the data section, with the data-section CRC.</summary>
    DataEnd = 0x0F,
}
