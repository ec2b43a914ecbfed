using Google.Protobuf;

namespace CausalTap.Grpc.Server;

/// <summary>The request stream of a client-streaming or duplex call, read from the HTTP/2 request body.</summary>
internal sealed class HttpContextStreamReader<T> : IAsyncStreamReader<T>
    where T : class, IMessage<T>
{
    /// <summary>The call; its token stops a pending read on client abort or deadline.</summary>
    private readonly HttpContextServerCallContext _context;
    /// <summary>Parses each request message.</summary>
    private readonly MessageParser<T> _parser;
    /// <summary>1 while a MoveNext is pending (reads are one at a time).</summary>
    private int _reading;
    /// <summary>Set once the client half-closed; later MoveNext calls return false.</summary>
    private bool _ended;
    private T? _current;

    public HttpContextStreamReader(HttpContextServerCallContext context, MessageParser<T> parser)
    {
        _context = context;
        _parser = parser;
    }

    public T Current => _current ?? throw new InvalidOperationException("No current message: call MoveNext first and check it returned true.");

    public async Task<bool> MoveNext(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _reading, 1) != 0)
            throw new InvalidOperationException("Can't read the next message because the previous read is still in progress.");
        try
        {
            if (_ended) return false;
            // Honour both the caller's token and the call's own (client abort, deadline).
            using CancellationTokenSource? linked = cancellationToken.CanBeCanceled
                ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _context.CancellationToken)
                : null;
            CancellationToken token = linked?.Token ?? _context.CancellationToken;
            token.ThrowIfCancellationRequested();

            T? message = await _context.ReadMessageAsync(_parser, token).ConfigureAwait(false);
            if (message is null)
            {
                _ended = true;
                _current = null;
                return false;
            }
            _current = message;
            return true;
        }
        finally
        {
            Volatile.Write(ref _reading, 0);
        }
    }
}
