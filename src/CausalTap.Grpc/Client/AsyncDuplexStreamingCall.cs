namespace CausalTap.Grpc.Client;

/// <summary>A running bidirectional call: write and read independently, complete the request stream when done.</summary>
public sealed class AsyncDuplexStreamingCall<TRequest, TResponse> : IDisposable
{
    private readonly IGrpcCall _call;

    internal AsyncDuplexStreamingCall(IClientStreamWriter<TRequest> requestStream, IAsyncStreamReader<TResponse> responseStream, IGrpcCall call)
    {
        RequestStream = requestStream;
        ResponseStream = responseStream;
        _call = call;
    }

    /// <summary>One write at a time; <see cref="IClientStreamWriter{T}.CompleteAsync"/> half-closes.</summary>
    public IClientStreamWriter<TRequest> RequestStream { get; }

    /// <summary>Responses; MoveNext throws <see cref="RpcException"/> when the status is not OK.</summary>
    public IAsyncStreamReader<TResponse> ResponseStream { get; }

    /// <summary>Response headers; faults with <see cref="RpcException"/> when the call fails before them.</summary>
    public Task<Metadata> ResponseHeadersAsync => _call.ResponseHeadersAsync;

    /// <summary>The final status; throws <see cref="InvalidOperationException"/> until the response stream ends.</summary>
    public Status GetStatus() => _call.GetStatus();

    /// <summary>The trailers; throws <see cref="InvalidOperationException"/> until the response stream ends.</summary>
    public Metadata GetTrailers() => _call.GetTrailers();

    /// <summary>Cancels the call if it is still running (the server sees the stream reset).</summary>
    public void Dispose() => _call.Dispose();
}
