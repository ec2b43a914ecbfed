using CausalTap.Grpc;
using CausalTap.Grpc.Client;

namespace CausalTap.Protocol.V1;

/// <summary>Typed client for <c>causaltap.v1.Tracker</c>, in the shape Grpc.Tools would generate.</summary>
public sealed class TrackerClient(GrpcChannel channel)
{
    public GrpcChannel Channel { get; } = channel;

    public AsyncUnaryCall<ServerInfo> GetServerInfoAsync(GetServerInfoRequest request, CallOptions options = default) =>
        Channel.UnaryCall(TrackerMethods.GetServerInfo, request, options);

    public AsyncUnaryCall<SessionInfo> OpenSessionAsync(OpenSessionRequest request, CallOptions options = default) =>
        Channel.UnaryCall(TrackerMethods.OpenSession, request, options);

    public AsyncUnaryCall<SessionInfo> CloseSessionAsync(CloseSessionRequest request, CallOptions options = default) =>
        Channel.UnaryCall(TrackerMethods.CloseSession, request, options);

    public AsyncUnaryCall<SessionInfo> GetSessionAsync(GetSessionRequest request, CallOptions options = default) =>
        Channel.UnaryCall(TrackerMethods.GetSession, request, options);

    public AsyncUnaryCall<ListSessionsResponse> ListSessionsAsync(ListSessionsRequest request, CallOptions options = default) =>
        Channel.UnaryCall(TrackerMethods.ListSessions, request, options);

    public AsyncClientStreamingCall<Frame, IngestSummary> StreamFrames(CallOptions options = default) =>
        Channel.ClientStreamingCall(TrackerMethods.StreamFrames, options);

    public AsyncUnaryCall<FrameAck> SubmitFrameAsync(Frame request, CallOptions options = default) =>
        Channel.UnaryCall(TrackerMethods.SubmitFrame, request, options);

    public AsyncServerStreamingCall<TrackUpdate> Subscribe(SubscribeRequest request, CallOptions options = default) =>
        Channel.ServerStreamingCall(TrackerMethods.Subscribe, request, options);

    public AsyncUnaryCall<AddPointsResponse> AddPointsAsync(AddPointsRequest request, CallOptions options = default) =>
        Channel.UnaryCall(TrackerMethods.AddPoints, request, options);

    public AsyncUnaryCall<RemovePointsResponse> RemovePointsAsync(RemovePointsRequest request, CallOptions options = default) =>
        Channel.UnaryCall(TrackerMethods.RemovePoints, request, options);

    public AsyncDuplexStreamingCall<TrackRequest, TrackEvent> Track(CallOptions options = default) =>
        Channel.DuplexStreamingCall(TrackerMethods.Track, options);

    public AsyncServerStreamingCall<TrackUpdate> Replay(ReplayRequest request, CallOptions options = default) =>
        Channel.ServerStreamingCall(TrackerMethods.Replay, request, options);

    public AsyncUnaryCall<ListEpisodesResponse> ListEpisodesAsync(ListEpisodesRequest request, CallOptions options = default) =>
        Channel.UnaryCall(TrackerMethods.ListEpisodes, request, options);
}
