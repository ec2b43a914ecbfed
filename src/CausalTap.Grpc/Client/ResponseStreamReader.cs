namespace CausalTap.Grpc.Client;

/// <summary>Response stream of a server-streaming or duplex call; <see cref="MoveNext"/> ends with the call's status.</summary>
internal sealed class ResponseStreamReader<TRequest, TResponse> : IAsyncStreamReader<TResponse>
    where TRequest : class, Google.Protobuf.IMessage<TRequest>, new()
    where TResponse : class, Google.Protobuf.IMessage<TResponse>, new()
{
    private readonly GrpcCall<TRequest, TResponse> _call;
    private TResponse? _current;
    /// <summary>1 while a MoveNext runs: the framing reader underneath is single-consumer.</summary>
    private int _reading;

    public ResponseStreamReader(GrpcCall<TRequest, TResponse> call) => _call = call;

    public TResponse Current => _current ?? throw new InvalidOperationException("Call MoveNext and check it returned true first.");

    /// <summary>Advances to the next message; false after the last one when the status is OK.</summary>
    /// <exception cref="RpcException">The call ended with a non-OK status (including cancel and deadline).</exception>
    public async Task<bool> MoveNext(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _reading, 1) == 1)
        {
            throw new InvalidOperationException("Can't read the next message because the previous read is still in progress.");
        }
        try
        {
            _current = await _call.ReadStreamMessageAsync(cancellationToken).ConfigureAwait(false);
            return _current is not null;
        }
        finally
        {
            Volatile.Write(ref _reading, 0);
        }
    }
}
