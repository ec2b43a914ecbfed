namespace CausalTap.Grpc.Client;

/// <summary>A running server-streaming call: read <see cref="ResponseStream"/> until MoveNext returns false.</summary>
public sealed class AsyncServerStreamingCall<TResponse> : IDisposable
{
    private readonly IGrpcCall _call;

    internal AsyncServerStreamingCall(IAsyncStreamReader<TResponse> responseStream, IGrpcCall call)
    {
        ResponseStream = responseStream;
        _call = call;
    }

    /// <summary>Responses; MoveNext throws <see cref="RpcException"/> when the status is not OK.</summary>
    public IAsyncStreamReader<TResponse> ResponseStream { get; }

    /// <summary>Response headers; faults with <see cref="RpcException"/> when the call fails before them.</summary>
    public Task<Metadata> ResponseHeadersAsync => _call.ResponseHeadersAsync;

    /// <summary>The final status; throws <see cref="InvalidOperationException"/> until the stream is read to its end.</summary>
    public Status GetStatus() => _call.GetStatus();

    /// <summary>The trailers; throws <see cref="InvalidOperationException"/> until the stream is read to its end.</summary>
    public Metadata GetTrailers() => _call.GetTrailers();

    /// <summary>Cancels the call if it is still running (the server sees the stream reset).</summary>
    public void Dispose() => _call.Dispose();
}
