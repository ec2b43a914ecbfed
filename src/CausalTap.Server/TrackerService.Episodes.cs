using CausalTap.Episodes;
using Grpc.Core;
using CausalTap.Protocol.V1;
using CausalTap.Tracking;
using TrackingMethod = CausalTap.Tracking.TrackingMethod;

namespace CausalTap.Server;

/// <summary>Replay and ListEpisodes over the episode directory (CausalTap.Episodes does the file work).</summary>
internal sealed partial class TrackerService
{
    private async Task ReplayAsync(ReplayRequest request, IServerStreamWriter<TrackUpdate> writer, ServerCallContext context)
    {
        string path = EpisodeFiles.ResolveExisting(_options.EpisodesDirectory, request.Episode, "episode");
        EpisodeMetadata? recorded;
        try
        {
            recorded = EpisodeCatalog.Summarize(path).Metadata;
        }
        catch (InvalidDataException ex) when (new FileInfo(path).Length < 8)
        {
            // Shorter than the MCAP magic: a recording that lost everything (e.g. killed before its first write).
            throw new RejectionException(RejectionKind.DataLoss, $"episode '{request.Episode}' is empty: {ex.Message}");
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            throw new RejectionException(RejectionKind.InvalidArgument, $"episode '{request.Episode}' cannot be read: {ex.Message}");
        }

        // Model: the request's, else the one the episode was recorded with (when this server has it), else the default.
        string model = request.Model;
        if (model.Length == 0 && recorded?.Model is { Length: > 0 } recordedModel
            && _models.ListModels().Any(m => ModelCatalog.FolderName(m) == recordedModel))
        {
            model = recordedModel;
        }
        TrackerModel tracker = await Task.Run(() => _models.Get(model, "", out _, out _), context.CancellationToken).ConfigureAwait(false);
        TrackingMethod? asked = request.Method switch
        {
            Protocol.V1.TrackingMethod.Fused => TrackingMethod.Fused,
            Protocol.V1.TrackingMethod.Tapir => TrackingMethod.Tapir,
            Protocol.V1.TrackingMethod.Gmrw => TrackingMethod.Gmrw,
            Protocol.V1.TrackingMethod.TapirLk => TrackingMethod.TapirLk,
            _ => null,
        };
        TrackingMethod method = TrackingMethods.Choose(asked, recorded?.Method, tracker.HasTapir, tracker.HasGmrw);

        EpisodeRecorder? output = null;
        if (request.OutEpisode.Length > 0)
        {
            EpisodeFiles.CheckName(request.OutEpisode, "out_episode");
            string name = request.OutEpisode.EndsWith(".mcap", StringComparison.OrdinalIgnoreCase) ? request.OutEpisode : request.OutEpisode + ".mcap";
            string outPath = Path.Combine(Path.GetFullPath(_options.EpisodesDirectory), name);
            if (File.Exists(outPath)) throw new RejectionException(RejectionKind.AlreadyExists, $"episode '{name}' already exists in the episode directory");
            output = EpisodeRecorder.Create(outPath, new EpisodeMetadata($"replay-{SessionManager.NewSessionId()}", recorded?.CameraId ?? "",
                model.Length > 0 ? model : _models.DefaultModelName ?? "", TrackingMethods.Name(method), Version, recorded?.FrameWidth ?? 0, recorded?.FrameHeight ?? 0));
        }
        try
        {
            var options = new ReplayOptions(Realtime: request.Speed == ReplaySpeed.Realtime, Output: output, Clock: _options.TimeProvider);
            try
            {
                await foreach (TrackUpdate update in EpisodeReplayer.ReplayAsync(path, tracker, method, options, context.CancellationToken).ConfigureAwait(false))
                {
                    await writer.WriteAsync(update, context.CancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException)
            {
                throw new RejectionException(RejectionKind.DataLoss, $"episode '{request.Episode}' is damaged: {ex.Message}");
            }
        }
        finally
        {
            output?.Dispose();
        }
    }

    private Task<ListEpisodesResponse> ListEpisodesAsync(ListEpisodesRequest request, ServerCallContext context)
    {
        var response = new ListEpisodesResponse();
        if (!Directory.Exists(_options.EpisodesDirectory)) return Task.FromResult(response);
        foreach (string file in Directory.GetFiles(_options.EpisodesDirectory, "*.mcap").Order(StringComparer.Ordinal))
        {
            try
            {
                EpisodeSummary s = EpisodeCatalog.Summarize(file);
                response.Episodes.Add(new EpisodeInfo
                {
                    Name = Path.GetFileName(file),
                    SizeBytes = (ulong)s.SizeBytes,
                    StartTimeNs = s.StartTimeNs,
                    EndTimeNs = s.EndTimeNs,
                    Frames = (ulong)s.Frames,
                    CameraId = s.Metadata?.CameraId ?? "",
                    Model = s.Metadata?.Model ?? "",
                });
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                // A file being written or not an episode: list it with what the file system knows.
                response.Episodes.Add(new EpisodeInfo { Name = Path.GetFileName(file), SizeBytes = (ulong)new FileInfo(file).Length });
            }
        }
        return Task.FromResult(response);
    }
}

/// <summary>A session's recording as an MCAP episode (<see cref="EpisodeRecorder"/>).</summary>
internal sealed class EpisodeSessionRecorder(EpisodeRecorder recorder) : ISessionRecorder
{
    /// <summary>The recorder factory the server uses.</summary>
    public static ISessionRecorder Create(RecordingRequest r) =>
        new EpisodeSessionRecorder(EpisodeRecorder.Create(r.Path, new EpisodeMetadata(r.SessionId, r.CameraId, r.Model,
            TrackingMethods.Name(r.Method), TrackerService.Version, r.FrameWidth, r.FrameHeight)));

    public string Path => recorder.Path;

    public void WriteTrackedFrame(long frameIndex, Frame frame, long receiveTimeNs, TrackUpdate update) =>
        recorder.WriteTrackedFrame(frameIndex, frame, receiveTimeNs, update);

    public void WritePointsAdded(long queryFrameIndex, AddPointsRequest request, AddPointsResponse response, long logTimeNs) =>
        recorder.WritePointsAdded(queryFrameIndex, request, response, logTimeNs);

    public void WritePointsRemoved(long frameIndex, RemovePointsRequest request, RemovePointsResponse response, long logTimeNs) =>
        recorder.WritePointsRemoved(frameIndex, request, response, logTimeNs);

    public void Dispose() => recorder.Dispose();
}
