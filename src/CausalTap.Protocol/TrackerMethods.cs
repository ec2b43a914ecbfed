using CausalTap.Grpc;
using Grpc.Health.V1;

namespace CausalTap.Protocol.V1;

/// <summary>
/// Method descriptors of <c>causaltap.v1.Tracker</c> (proto/causaltap/v1/tracker.proto) and of the standard
/// <c>grpc.health.v1.Health</c> service. Grpc.Tools' service generator needs Grpc.Core.Api, which cannot be
/// restored here, so the descriptors are written out once, here, and used by the server, the CLI clients and tests.
/// </summary>
public static class TrackerMethods
{
    public const string ServiceName = "causaltap.v1.Tracker";

    public static readonly Method<GetServerInfoRequest, ServerInfo> GetServerInfo = new(MethodType.Unary, ServiceName, "GetServerInfo");
    public static readonly Method<OpenSessionRequest, SessionInfo> OpenSession = new(MethodType.Unary, ServiceName, "OpenSession");
    public static readonly Method<CloseSessionRequest, SessionInfo> CloseSession = new(MethodType.Unary, ServiceName, "CloseSession");
    public static readonly Method<GetSessionRequest, SessionInfo> GetSession = new(MethodType.Unary, ServiceName, "GetSession");
    public static readonly Method<ListSessionsRequest, ListSessionsResponse> ListSessions = new(MethodType.Unary, ServiceName, "ListSessions");
    public static readonly Method<Frame, IngestSummary> StreamFrames = new(MethodType.ClientStreaming, ServiceName, "StreamFrames");
    public static readonly Method<Frame, FrameAck> SubmitFrame = new(MethodType.Unary, ServiceName, "SubmitFrame");
    public static readonly Method<SubscribeRequest, TrackUpdate> Subscribe = new(MethodType.ServerStreaming, ServiceName, "Subscribe");
    public static readonly Method<AddPointsRequest, AddPointsResponse> AddPoints = new(MethodType.Unary, ServiceName, "AddPoints");
    public static readonly Method<RemovePointsRequest, RemovePointsResponse> RemovePoints = new(MethodType.Unary, ServiceName, "RemovePoints");
    public static readonly Method<TrackRequest, TrackEvent> Track = new(MethodType.DuplexStreaming, ServiceName, "Track");
    public static readonly Method<ReplayRequest, TrackUpdate> Replay = new(MethodType.ServerStreaming, ServiceName, "Replay");
    public static readonly Method<ListEpisodesRequest, ListEpisodesResponse> ListEpisodes = new(MethodType.Unary, ServiceName, "ListEpisodes");

    public const string HealthServiceName = "grpc.health.v1.Health";
    public static readonly Method<HealthCheckRequest, HealthCheckResponse> HealthCheck = new(MethodType.Unary, HealthServiceName, "Check");
    public static readonly Method<HealthCheckRequest, HealthCheckResponse> HealthWatch = new(MethodType.ServerStreaming, HealthServiceName, "Watch");
}
