using Google.Protobuf;

namespace CausalTap.Grpc;

/// <summary>The four gRPC call shapes.</summary>
public enum MethodType
{
    Unary,
    ClientStreaming,
    ServerStreaming,
    DuplexStreaming,
}

/// <summary>
/// Describes one RPC: service, name, shape and the protobuf parsers of both message types.
/// The HTTP/2 path is "/{ServiceName}/{Name}" (e.g. "/grpc.testing.TestService/UnaryCall").
/// </summary>
public sealed class Method<TRequest, TResponse>
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    public Method(MethodType type, string serviceName, string name)
    {
        Type = type;
        ServiceName = serviceName;
        Name = name;
        FullName = $"/{serviceName}/{name}";
    }

    public MethodType Type { get; }

    /// <summary>Fully-qualified protobuf service name, e.g. "grpc.testing.TestService".</summary>
    public string ServiceName { get; }

    public string Name { get; }

    /// <summary>The request path, "/{ServiceName}/{Name}".</summary>
    public string FullName { get; }

    public MessageParser<TRequest> RequestParser { get; } = new(() => new TRequest());

    public MessageParser<TResponse> ResponseParser { get; } = new(() => new TResponse());
}
