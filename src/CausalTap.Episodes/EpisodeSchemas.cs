using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace CausalTap.Episodes;

/// <summary>Topics and MCAP schemas of a CausalTap episode.</summary>
public static class EpisodeSchemas
{
    /// <summary>Frames the tracker processed: foxglove.CompressedImage or foxglove.RawImage; MCAP sequence = frame index.</summary>
    public const string ImageTopic = "/camera/image";

    /// <summary>Point commands as applied: causaltap.v1.PointCommand.</summary>
    public const string CommandTopic = "/tracker/commands";

    /// <summary>One causaltap.v1.TrackUpdate per processed frame.</summary>
    public const string UpdateTopic = "/tracker/updates";

    /// <summary>The updates drawn for Foxglove's image panel: foxglove.ImageAnnotations.</summary>
    public const string AnnotationTopic = "/tracker/annotations";

    /// <summary>Schema and message encoding of every channel.</summary>
    public const string Encoding = "protobuf";

    /// <summary>
    /// The schema data MCAP's "protobuf" encoding asks for: a serialized google.protobuf.FileDescriptorSet holding
    /// the message's file and every file it imports (dependencies first), so a reader that knows nothing of
    /// CausalTap (Foxglove, the mcap CLI, python's descriptor_pool) can build the message type.
    /// </summary>
    public static byte[] FileDescriptorSet(MessageDescriptor message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var set = new FileDescriptorSet();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(FileDescriptor file)
        {
            if (!seen.Add(file.Name))
            {
                return;
            }
            foreach (var dependency in file.Dependencies)
            {
                Add(dependency);
            }
            set.File.Add(FileDescriptorProto.Parser.ParseFrom(file.SerializedData));
        }
        Add(message.File);
        return set.ToByteArray();
    }
}
