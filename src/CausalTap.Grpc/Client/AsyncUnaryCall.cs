using System.Runtime.CompilerServices;

namespace CausalTap.Grpc.Client;

/// <summary>A running unary call. Await it (or <see cref="ResponseAsync"/>) for the response.</summary>
public sealed class AsyncUnaryCall<TResponse> : IDisposable
{
    private readonly IGrpcCall _call;

    internal AsyncUnaryCall(Task<TResponse> responseAsync, IGrpcCall call)
    {
        ResponseAsync = responseAsync;
        _call = call;
    }

    /// <summary>The response; faults with <see cref="RpcException"/> when the status is not OK.</summary>
    public Task<TResponse> ResponseAsync { get; }

    /// <summary>Response headers; faults with <see cref="RpcException"/> when the call fails before them.</summary>
    public Task<Metadata> ResponseHeadersAsync => _call.ResponseHeadersAsync;

    public TaskAwaiter<TResponse> GetAwaiter() => ResponseAsync.GetAwaiter();

    /// <summary>The final status; throws <see cref="InvalidOperationException"/> while the call runs.</summary>
    public Status GetStatus() => _call.GetStatus();

    /// <summary>The trailers; throws <see cref="InvalidOperationException"/> while the call runs.</summary>
    public Metadata GetTrailers() => _call.GetTrailers();

    /// <summary>Cancels the call if it is still running (the server sees the stream reset).</summary>
    public void Dispose() => _call.Dispose();
}
