using Google.Protobuf;

namespace CausalTap.Grpc.Server;

/// <summary>
/// The response stream of a server-streaming or duplex call. One write at a time, each flushed; writes after
/// the call completed (handler returned, deadline passed) throw.
/// </summary>
internal sealed class HttpContextStreamWriter<T> : IServerStreamWriter<T>
    where T : class, IMessage<T>
{
    /// <summary>The call that owns the response.</summary>
    private readonly HttpContextServerCallContext _context;
    /// <summary>1 while a write is pending.</summary>
    private int _writing;

    public HttpContextStreamWriter(HttpContextServerCallContext context)
    {
        _context = context;
    }

    public async Task WriteAsync(T message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_context.IsCompleted || _context.IsDisposed)
            throw new InvalidOperationException("Can't write the message because the call is complete.");
        if (Interlocked.CompareExchange(ref _writing, 1, 0) != 0)
            throw new InvalidOperationException("Can't write the message because the previous write is in progress.");
        try
        {
            using CancellationTokenSource? linked = cancellationToken.CanBeCanceled
                ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _context.CancellationToken)
                : null;
            await _context.WriteMessageAsync(message, linked?.Token ?? _context.CancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }
}
