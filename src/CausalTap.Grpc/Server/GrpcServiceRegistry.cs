using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Server;

/// <summary>
/// Which handler serves which path. Fill it with the Add* methods, then expose it with
/// <see cref="GrpcEndpointRouteBuilderExtensions.MapGrpcServices"/> or <see cref="GrpcServerHost"/>.
/// </summary>
public sealed class GrpcServiceRegistry
{
    private readonly List<ServerMethodDefinition> _methods = new();
    private readonly HashSet<string> _paths = new(StringComparer.Ordinal);

    /// <summary>The registered methods, in registration order.</summary>
    internal IReadOnlyList<ServerMethodDefinition> Methods => _methods;

    public GrpcServiceRegistry AddUnary<TRequest, TResponse>(Method<TRequest, TResponse> method,
        UnaryServerMethod<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Add(method, MethodType.Unary,
            (options, logger) => new UnaryServerCallHandler<TRequest, TResponse>(method, handler, options, logger));
    }

    public GrpcServiceRegistry AddClientStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method,
        ClientStreamingServerMethod<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Add(method, MethodType.ClientStreaming,
            (options, logger) => new ClientStreamingServerCallHandler<TRequest, TResponse>(method, handler, options, logger));
    }

    public GrpcServiceRegistry AddServerStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method,
        ServerStreamingServerMethod<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Add(method, MethodType.ServerStreaming,
            (options, logger) => new ServerStreamingServerCallHandler<TRequest, TResponse>(method, handler, options, logger));
    }

    public GrpcServiceRegistry AddDuplexStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method,
        DuplexStreamingServerMethod<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Add(method, MethodType.DuplexStreaming,
            (options, logger) => new DuplexStreamingServerCallHandler<TRequest, TResponse>(method, handler, options, logger));
    }

    private GrpcServiceRegistry Add<TRequest, TResponse>(Method<TRequest, TResponse> method, MethodType expected,
        Func<GrpcServerOptions, ILogger, ServerCallHandler> factory)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(method);
        // A mismatch would make the client and server disagree about framing; catch it at registration.
        if (method.Type != expected)
            throw new ArgumentException($"Method {method.FullName} is {method.Type}, not {expected}.", nameof(method));
        if (!_paths.Add(method.FullName))
            throw new ArgumentException($"Method {method.FullName} is already registered.", nameof(method));
        _methods.Add(new ServerMethodDefinition(method.FullName, method.Type, factory));
        return this;
    }
}

/// <summary>One registered method: its path, its shape and how to build its call handler.</summary>
internal sealed record ServerMethodDefinition(
    string Path,
    MethodType Type,
    Func<GrpcServerOptions, ILogger, ServerCallHandler> CreateHandler);

/// <summary>Serves every call of one path; built once per mapping, shared by all calls.</summary>
internal abstract class ServerCallHandler
{
    public abstract Task HandleCallAsync(Microsoft.AspNetCore.Http.HttpContext httpContext);
}
