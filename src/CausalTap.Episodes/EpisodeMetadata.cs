using System.Globalization;

namespace CausalTap.Episodes;

/// <summary>
/// Who recorded an episode and how. Written as the MCAP Metadata record <see cref="RecordName"/> (a string map,
/// keys in <see cref="ToMap"/>) at the start of the file, so a crashed recording keeps it.
/// </summary>
/// <param name="SessionId">The recorded session.</param>
/// <param name="CameraId">The camera that fed it.</param>
/// <param name="Model">Model name the session tracked with.</param>
/// <param name="Method">Tracking method ("fused", "tapir", "gmrw", "tapir-lk").</param>
/// <param name="ServerVersion">CausalTap version of the recorder.</param>
/// <param name="FrameWidth">Frame width in pixels; 0 when not known at the start.</param>
/// <param name="FrameHeight">Frame height in pixels; 0 when not known at the start.</param>
public sealed record EpisodeMetadata(string SessionId, string CameraId, string Model, string Method,
                                     string ServerVersion, int FrameWidth, int FrameHeight)
{
    /// <summary>Name of the MCAP Metadata record.</summary>
    public const string RecordName = "causaltap.episode";

    /// <summary>The string map stored in the Metadata record.</summary>
    public IReadOnlyDictionary<string, string> ToMap() => new Dictionary<string, string>
    {
        ["format"] = "causaltap-episode/1",
        ["session_id"] = SessionId ?? "",
        ["camera_id"] = CameraId ?? "",
        ["model"] = Model ?? "",
        ["method"] = Method ?? "",
        ["server_version"] = ServerVersion ?? "",
        ["frame_width"] = FrameWidth.ToString(CultureInfo.InvariantCulture),
        ["frame_height"] = FrameHeight.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Reads the map back; missing keys become "" or 0.</summary>
    public static EpisodeMetadata FromMap(IReadOnlyDictionary<string, string> map)
    {
        ArgumentNullException.ThrowIfNull(map);
        string Get(string key) => map.TryGetValue(key, out var v) ? v : "";
        int GetInt(string key) => int.TryParse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;
        return new EpisodeMetadata(Get("session_id"), Get("camera_id"), Get("model"), Get("method"), Get("server_version"),
                                   GetInt("frame_width"), GetInt("frame_height"));
    }
}
