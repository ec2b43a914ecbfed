namespace CausalTap.Episodes;

/// <summary>What an episode file holds, at a glance.</summary>
/// <param name="Path">The file.</param>
/// <param name="SizeBytes">File size.</param>
/// <param name="StartTimeNs">Earliest message log time (0 when the file has no message).</param>
/// <param name="EndTimeNs">Latest message log time (0 when the file has no message).</param>
/// <param name="Frames">Messages on /camera/image.</param>
/// <param name="Metadata">The "causaltap.episode" metadata, or null when the file has none.</param>
public sealed record EpisodeSummary(string Path, long SizeBytes, long StartTimeNs, long EndTimeNs, long Frames,
                                    EpisodeMetadata? Metadata);

/// <summary>Summaries of episode files (for listings such as the server's ListEpisodes).</summary>
public static class EpisodeCatalog
{
    /// <summary>
    /// Summarizes an episode: from the MCAP summary section when the file is complete (reads only the footer, the
    /// summary and the metadata record), else by scanning every record (a crashed recording). IOException when the
    /// file cannot be read, <see cref="InvalidDataException"/> when it is not an MCAP file.
    /// </summary>
    public static EpisodeSummary Summarize(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        var size = stream.Length;
        if (McapSummary.TryRead(stream) is { Statistics: { } stats } summary)
        {
            var frames = 0L;
            foreach (var (channelId, count) in stats.ChannelMessageCounts)
            {
                if (summary.Channels.TryGetValue(channelId, out var channel) && channel.Topic == EpisodeSchemas.ImageTopic)
                {
                    frames += (long)count;
                }
            }
            EpisodeMetadata? metadata = null;
            if (summary.MetadataIndexes.FirstOrDefault(m => m.Name == EpisodeMetadata.RecordName) is { } index)
            {
                metadata = EpisodeMetadata.FromMap(McapSummary.ReadMetadata(stream, index).Values);
            }
            return stats.MessageCount == 0
                ? new EpisodeSummary(path, size, 0, 0, frames, metadata)
                : new EpisodeSummary(path, size, (long)stats.MessageStartTime, (long)stats.MessageEndTime, frames, metadata);
        }

        stream.Position = 0;
        var reader = new McapReader(stream);
        long scannedFrames = 0, start = 0, end = 0;
        var any = false;
        foreach (var message in reader.ReadMessages())
        {
            var t = (long)message.LogTime;
            if (!any || t < start)
            {
                start = t;
            }
            if (!any || t > end)
            {
                end = t;
            }
            any = true;
            if (reader.Channels.TryGetValue(message.ChannelId, out var channel) && channel.Topic == EpisodeSchemas.ImageTopic)
            {
                scannedFrames++;
            }
        }
        var record = reader.Metadata.FirstOrDefault(m => m.Name == EpisodeMetadata.RecordName);
        return new EpisodeSummary(path, size, start, end, scannedFrames, record is null ? null : EpisodeMetadata.FromMap(record.Values));
    }
}
