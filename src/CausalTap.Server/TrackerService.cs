using System.Reflection;
using Grpc.Core;
using CausalTap.Protocol.V1;
using CausalTap.Tracking;
using CausalTap.Tracking.Inference;
using Microsoft.Extensions.Logging;

namespace CausalTap.Server;

/// <summary>
/// The causaltap.v1.Tracker handlers on the base class Grpc.Tools generates from proto/causaltap/v1/tracker.proto.
/// <see cref="TrackerCallInterceptor"/> runs around each: the bearer token, domain rejections to statuses, error log.
/// </summary>
internal sealed partial class TrackerService : Tracker.TrackerBase
{
    private readonly SessionManager _sessions;
    private readonly ModelCache _models;
    private readonly TrackerServerOptions _options;
    private readonly ILogger _logger;

    public TrackerService(SessionManager sessions, ModelCache models, TrackerServerOptions options, ILogger logger)
    {
        _sessions = sessions;
        _models = models;
        _options = options;
        _logger = logger;
    }

    /// <summary>The server's version (the assembly's informational version without the commit suffix).</summary>
    public static string Version { get; } =
        typeof(TrackerService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    // ------------------------------------------------------------------ the Tracker service (generated base)

    public override Task<ServerInfo> GetServerInfo(GetServerInfoRequest request, ServerCallContext context) => GetServerInfoAsync(request, context);

    public override Task<SessionInfo> OpenSession(OpenSessionRequest request, ServerCallContext context) => OpenSessionAsync(request, context);

    public override Task<SessionInfo> CloseSession(CloseSessionRequest request, ServerCallContext context) => CloseSessionAsync(request, context);

    public override Task<SessionInfo> GetSession(GetSessionRequest request, ServerCallContext context) => Task.FromResult(_sessions.GetInfo(request.SessionId));

    public override Task<ListSessionsResponse> ListSessions(ListSessionsRequest request, ServerCallContext context) => ListSessionsAsync(request, context);

    public override Task<IngestSummary> StreamFrames(IAsyncStreamReader<Frame> requestStream, ServerCallContext context) => StreamFramesAsync(requestStream, context);

    public override Task<FrameAck> SubmitFrame(Frame request, ServerCallContext context) => SubmitFrameAsync(request, context);

    public override Task Subscribe(SubscribeRequest request, IServerStreamWriter<TrackUpdate> responseStream, ServerCallContext context) =>
        SubscribeAsync(request, responseStream, context);

    public override Task<AddPointsResponse> AddPoints(AddPointsRequest request, ServerCallContext context) =>
        Task.FromResult(_sessions.Get(request.SessionId).AddPoints(request));

    public override Task<RemovePointsResponse> RemovePoints(RemovePointsRequest request, ServerCallContext context) =>
        Task.FromResult(_sessions.Get(request.SessionId).RemovePoints(request));

    public override Task Track(IAsyncStreamReader<TrackRequest> requestStream, IServerStreamWriter<TrackEvent> responseStream, ServerCallContext context) =>
        TrackAsync(requestStream, responseStream, context);

    public override Task Replay(ReplayRequest request, IServerStreamWriter<TrackUpdate> responseStream, ServerCallContext context) =>
        ReplayAsync(request, responseStream, context);

    public override Task<ListEpisodesResponse> ListEpisodes(ListEpisodesRequest request, ServerCallContext context) => ListEpisodesAsync(request, context);

    // ------------------------------------------------------------------ info and sessions

    private Task<ServerInfo> GetServerInfoAsync(GetServerInfoRequest request, ServerCallContext context)
    {
        var info = new ServerInfo
        {
            Version = Version,
            AuthRequired = _options.AuthToken is not null,
            Tls = _options.TlsEnabled,
            DefaultModel = _models.DefaultModelName ?? "",
            Limits = new Limits
            {
                MaxSessions = (uint)_options.MaxSessions,
                MaxPointsPerSession = (uint)_options.MaxPointsPerSession,
                MaxMessageBytes = (uint)_options.MaxMessageBytes,
                IngestQueueFrames = (uint)_options.IngestQueueFrames,
                SubscriberQueueUpdates = (uint)_options.SubscriberQueueUpdates,
                SessionIdleTimeoutS = Math.Max(0, _options.SessionIdleTimeout.TotalSeconds),
                MaxFrameWidth = (uint)_options.MaxFrameWidth,
                MaxFrameHeight = (uint)_options.MaxFrameHeight,
            },
        };
        info.OnnxruntimeVersion = ExecutionProviders.OrtVersion;
        // ORT lists CUDA/TensorRT whether or not their libraries load here: report only the ones that load.
        foreach (ProviderStatus provider in ExecutionProviders.Survey())
        {
            if (provider.Loads) info.Providers.Add(provider.Name);
        }
        foreach (ModelDirectory model in _models.ListModels())
        {
            var m = new ModelInfo
            {
                Name = ModelCatalog.FolderName(model),
                Description = model.Card.Description ?? "",
                IsDefault = ModelCatalog.FolderName(model) == _models.DefaultModelName,
                InputWidth = (uint)model.InputWidth,
                InputHeight = (uint)model.InputHeight,
            };
            if (model.HasTapir && model.HasGmrw) m.Methods.Add(Protocol.V1.TrackingMethod.Fused);
            if (model.HasTapir) m.Methods.Add(Protocol.V1.TrackingMethod.Tapir);
            if (model.HasTapir) m.Methods.Add(Protocol.V1.TrackingMethod.TapirLk);
            if (model.HasGmrw) m.Methods.Add(Protocol.V1.TrackingMethod.Gmrw);
            info.Models.Add(m);
        }
        return Task.FromResult(info);
    }

    private async Task<SessionInfo> OpenSessionAsync(OpenSessionRequest request, ServerCallContext context)
    {
        // Loading a model the first time takes a while and is synchronous: keep it off the request thread.
        TrackingSession session = await Task.Run(() => _sessions.Open(request), context.CancellationToken).ConfigureAwait(false);
        return session.ToInfo();
    }

    private Task<SessionInfo> CloseSessionAsync(CloseSessionRequest request, ServerCallContext context) =>
        _sessions.CloseAsync(request.SessionId, CloseReasons.ByClient);

    private Task<ListSessionsResponse> ListSessionsAsync(ListSessionsRequest request, ServerCallContext context)
    {
        var response = new ListSessionsResponse();
        foreach (TrackingSession session in _sessions.List()) response.Sessions.Add(session.ToInfo());
        return Task.FromResult(response);
    }

    // ------------------------------------------------------------------ frames

    private async Task<IngestSummary> StreamFramesAsync(IAsyncStreamReader<Frame> requests, ServerCallContext context)
    {
        var call = new IngestCall();
        TrackingSession? session = null;
        IDisposable? scope = null;
        try
        {
            while (await requests.MoveNext(context.CancellationToken).ConfigureAwait(false))
            {
                Frame frame = requests.Current;
                if (session is null)
                {
                    session = _sessions.Get(frame.SessionId);
                    scope = session.BeginCall();
                }
                else if (frame.SessionId.Length > 0 && frame.SessionId != session.Id)
                {
                    throw new RejectionException(RejectionKind.InvalidArgument, $"frame names session '{frame.SessionId}' but this call streams to session {session.Id}");
                }
                try
                {
                    await session.SubmitAsync(frame, call, context.CancellationToken).ConfigureAwait(false);
                }
                catch (RejectionException)
                {
                    // Counted (call and session) and logged by the session; the camera's stream goes on.
                }
            }
            return call.ToSummary();
        }
        finally
        {
            scope?.Dispose();
        }
    }

    private async Task<FrameAck> SubmitFrameAsync(Frame frame, ServerCallContext context)
    {
        TrackingSession session = _sessions.Get(frame.SessionId);
        using IDisposable scope = session.BeginCall();
        bool queued = await session.SubmitAsync(frame, null, context.CancellationToken).ConfigureAwait(false);
        SessionStats stats = session.ToInfo().Stats;
        return new FrameAck { Sequence = frame.Sequence, Queued = queued, FramesDropped = stats.FramesDropped, FramesRejected = stats.FramesRejected };
    }

    // ------------------------------------------------------------------ subscribers and points

    private int SubscriberCapacity(uint requested) =>
        requested == 0 ? _options.SubscriberQueueUpdates : (int)Math.Min(requested, SessionManager.MaxIngestQueueFrames);

    private async Task SubscribeAsync(SubscribeRequest request, IServerStreamWriter<TrackUpdate> writer, ServerCallContext context)
    {
        TrackingSession session = _sessions.Get(request.SessionId);
        using IDisposable scope = session.BeginCall();
        Subscriber subscriber = session.Subscribe(SubscriberCapacity(request.QueueUpdates), wantsRejections: false);
        try
        {
            await foreach (SessionEvent item in subscriber.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
            {
                if (item.Update is { } update) await writer.WriteAsync(update, context.CancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            session.Unsubscribe(subscriber);
        }
    }

    // ------------------------------------------------------------------ one-call tracking

    private async Task TrackAsync(IAsyncStreamReader<TrackRequest> requests, IServerStreamWriter<TrackEvent> writer, ServerCallContext context)
    {
        CancellationToken callToken = context.CancellationToken;
        if (!await requests.MoveNext(callToken).ConfigureAwait(false)) return;
        TrackRequest first = requests.Current;
        TrackingSession session;
        bool owned;
        switch (first.ItemCase)
        {
            case TrackRequest.ItemOneofCase.Open:
                session = await Task.Run(() => _sessions.Open(first.Open), callToken).ConfigureAwait(false);
                owned = true;
                break;
            case TrackRequest.ItemOneofCase.SessionId:
                session = _sessions.Get(first.SessionId);
                owned = false;
                break;
            default:
                throw new RejectionException(RejectionKind.InvalidArgument, "the first Track message must be `open` or `session_id`");
        }

        using IDisposable scope = session.BeginCall();
        using var writeLock = new SemaphoreSlim(1, 1);
        using var forwarding = CancellationTokenSource.CreateLinkedTokenSource(callToken);
        async Task Send(TrackEvent e)
        {
            await writeLock.WaitAsync(callToken).ConfigureAwait(false);
            try { await writer.WriteAsync(e, callToken).ConfigureAwait(false); }
            finally { writeLock.Release(); }
        }

        Subscriber subscriber = session.Subscribe(_options.SubscriberQueueUpdates, wantsRejections: true);
        Task forward = Task.CompletedTask;
        bool completed = false;
        try
        {
            await Send(new TrackEvent { Session = session.ToInfo() }).ConfigureAwait(false);
            forward = Task.Run(async () =>
            {
                await foreach (SessionEvent item in subscriber.ReadAllAsync(forwarding.Token).ConfigureAwait(false))
                {
                    await Send(item.Update is { } u ? new TrackEvent { Update = u } : new TrackEvent { FrameRejected = item.Rejection }).ConfigureAwait(false);
                }
            });
            var call = new IngestCall();
            while (await requests.MoveNext(callToken).ConfigureAwait(false))
            {
                TrackEvent? reply = await HandleTrackRequestAsync(session, requests.Current, call, callToken).ConfigureAwait(false);
                if (reply is not null) await Send(reply).ConfigureAwait(false);
            }
            // The client has sent everything: let its frames finish, then end the stream after their updates.
            if (owned) await _sessions.CloseAsync(session.Id, CloseReasons.TrackCallEnded).ConfigureAwait(false);
            else
            {
                await session.FlushAsync(callToken).ConfigureAwait(false);
                session.Unsubscribe(subscriber);
            }
            await forward.ConfigureAwait(false);
            completed = true;
        }
        finally
        {
            if (!completed)
            {
                forwarding.Cancel();
                session.Unsubscribe(subscriber);
                try { await forward.ConfigureAwait(false); } catch (OperationCanceledException) { } catch (RejectionException) { } catch (RpcException) { } catch (InvalidOperationException) { }
                if (owned) _ = _sessions.CloseAsync(session.Id, CloseReasons.TrackCallEnded).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            }
        }
    }

    /// <summary>One Track message after the first: the event to send back, or null (frames answer through updates).</summary>
    private static async Task<TrackEvent?> HandleTrackRequestAsync(TrackingSession session, TrackRequest request, IngestCall call, CancellationToken cancellationToken)
    {
        try
        {
            switch (request.ItemCase)
            {
                case TrackRequest.ItemOneofCase.Frame:
                    Frame frame = request.Frame;
                    try
                    {
                        CheckSessionId(frame.SessionId, session);
                        await session.SubmitAsync(frame, call, cancellationToken).ConfigureAwait(false);
                        return null;
                    }
                    catch (RejectionException ex)
                    {
                        return new TrackEvent { FrameRejected = new FrameRejected { Sequence = frame.Sequence, CaptureTimeNs = frame.CaptureTimeNs, Code = (int)WireStatus.Of(ex.Kind), Message = ex.Message } };
                    }
                case TrackRequest.ItemOneofCase.AddPoints:
                    CheckSessionId(request.AddPoints.SessionId, session);
                    return new TrackEvent { PointsAdded = session.AddPoints(request.AddPoints) };
                case TrackRequest.ItemOneofCase.RemovePoints:
                    CheckSessionId(request.RemovePoints.SessionId, session);
                    return new TrackEvent { PointsRemoved = session.RemovePoints(request.RemovePoints) };
                case TrackRequest.ItemOneofCase.Open:
                case TrackRequest.ItemOneofCase.SessionId:
                    throw new RejectionException(RejectionKind.InvalidArgument, "only the first Track message may open or attach a session");
                default:
                    throw new RejectionException(RejectionKind.InvalidArgument, "empty TrackRequest (set frame, add_points or remove_points)");
            }
        }
        catch (RejectionException ex)
        {
            return new TrackEvent { CommandRejected = new CommandRejected { Code = (int)WireStatus.Of(ex.Kind), Message = ex.Message } };
        }
    }

    private static void CheckSessionId(string sessionId, TrackingSession session)
    {
        if (sessionId.Length > 0 && sessionId != session.Id)
            throw new RejectionException(RejectionKind.InvalidArgument, $"message names session '{sessionId}' but this Track call works on session {session.Id}");
    }
}
