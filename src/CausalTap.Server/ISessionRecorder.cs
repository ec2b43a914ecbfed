using CausalTap.Protocol.V1;

namespace CausalTap.Server;

/// <summary>
/// The recording side of a session (an MCAP episode in production, see <see cref="EpisodeSessionRecorder"/>).
/// Calls come from the engine loop and the point commands, always under the session's engine lock, so the file
/// holds frames and commands in the order the tracker saw them.
/// </summary>
internal interface ISessionRecorder : IDisposable
{
    /// <summary>Server-side path of the recording.</summary>
    string Path { get; }

    /// <summary>A processed frame with its update, kept together in the file (a crash loses both or neither).</summary>
    void WriteTrackedFrame(long frameIndex, Frame frame, long receiveTimeNs, TrackUpdate update);

    void WritePointsAdded(long queryFrameIndex, AddPointsRequest request, AddPointsResponse response, long logTimeNs);

    void WritePointsRemoved(long frameIndex, RemovePointsRequest request, RemovePointsResponse response, long logTimeNs);
}
