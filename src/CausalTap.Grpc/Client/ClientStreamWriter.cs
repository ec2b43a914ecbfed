using System.IO.Pipelines;
using CausalTap.Grpc.Internal;

namespace CausalTap.Grpc.Client;

/// <summary>
/// Request stream of a client-streaming or duplex call. Each <see cref="WriteAsync"/> frames one message
/// and flushes it into the HTTP/2 request body; <see cref="CompleteAsync"/> lets the body end (half-close).
/// </summary>
internal sealed class ClientStreamWriter<TRequest> : IClientStreamWriter<TRequest>
    where TRequest : class, Google.Protobuf.IMessage<TRequest>, new()
{
    /// <summary>How long a failed write waits for the server's own status before blaming the transport.</summary>
    private static readonly TimeSpan StatusGrace = TimeSpan.FromMilliseconds(250);

    private readonly IStreamWriterOwner _call;
    /// <summary>The request body, once HttpClient has started sending it.</summary>
    private readonly TaskCompletionSource<PipeWriter> _body = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Completing it returns from the body delegate (END_STREAM); cancelling it resets the stream.</summary>
    private readonly TaskCompletionSource _bodyDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Guards <see cref="_pendingWrite"/> and <see cref="_completed"/>.</summary>
    private readonly object _lock = new();
    private Task? _pendingWrite;
    private bool _completed;

    public ClientStreamWriter(IStreamWriterOwner call) => _call = call;

    public Task WriteAsync(TRequest message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        lock (_lock)
        {
            if (_completed) throw new InvalidOperationException("Can't write the message because the request stream is complete.");
            if (_pendingWrite is { IsCompleted: false })
            {
                throw new InvalidOperationException("Can't write the message because the previous write is in progress.");
            }
            return _pendingWrite = WriteCoreAsync(message, cancellationToken);
        }
    }

    public Task CompleteAsync()
    {
        lock (_lock)
        {
            if (_pendingWrite is { IsCompleted: false })
            {
                throw new InvalidOperationException("Can't complete the request stream because the previous write is in progress.");
            }
            _completed = true;
        }
        _bodyDone.TrySetResult();
        return Task.CompletedTask;
    }

    private async Task WriteCoreAsync(TRequest message, CancellationToken cancellationToken)
    {
        _call.ThrowIfFinishedForWrite();
        using CancellationTokenRegistration _ = _call.RegisterCancel(cancellationToken);
        try
        {
            PipeWriter body = await _body.Task.ConfigureAwait(false);
            MessageFraming.WriteMessage(body, message, _call.MaxSendMessageSize);
            // One flush per message: each becomes DATA frames now, not when a buffer fills.
            await body.FlushAsync(_call.CallToken).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            // Over MaxSendMessageSize: nothing was written, but the call is abandoned (as for unary calls).
            // Otherwise the call had already ended and this is its status.
            _call.Cancel(ex.Status);
            _call.ThrowIfFinishedForWrite();
            throw;
        }
        catch (Exception ex) when (ex is not RpcException)
        {
            // The body failed because the call ended (the server finished or reset the stream, or we
            // cancelled). Prefer the server's status when a reader is about to deliver it.
            if (!_call.IsFinished) await Task.WhenAny(_call.Finished, Task.Delay(StatusGrace)).ConfigureAwait(false);
            if (!_call.IsFinished) _call.Cancel(GrpcClientProtocol.StatusFromException(ex));
            _call.ThrowIfFinishedForWrite();
            throw;
        }
    }

    /// <summary>Body delegate for <see cref="GrpcRequestContent"/>: hands the stream to writers and waits for the end.</summary>
    internal async Task WriteBodyAsync(Stream stream, CancellationToken cancellationToken)
    {
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        // A second serialization (HttpClient retrying on a new connection) cannot replay written messages.
        if (!_body.TrySetResult(writer)) throw new InvalidOperationException("The request stream cannot be sent twice.");
        using CancellationTokenRegistration _ = cancellationToken.Register(static s => ((TaskCompletionSource)s!).TrySetCanceled(), _bodyDone);
        await _bodyDone.Task.ConfigureAwait(false);
    }

    /// <summary>The call has a final status: unblock writers and end the body (cleanly only after OK).</summary>
    internal void OnCallFinished(Status status)
    {
        if (status.StatusCode == StatusCode.OK)
        {
            _body.TrySetException(new InvalidOperationException("Can't write the message because the call is complete."));
            _bodyDone.TrySetResult();
        }
        else
        {
            _body.TrySetException(new RpcException(status));
            _bodyDone.TrySetCanceled();
        }
        // Nobody may be waiting for the body any more; keep the fault from surfacing as unobserved.
        _ = _body.Task.Exception;
    }
}

/// <summary>What the request writer needs from its call (keeps the writer free of the response type).</summary>
internal interface IStreamWriterOwner
{
    bool IsFinished { get; }

    Task Finished { get; }

    CancellationToken CallToken { get; }

    int MaxSendMessageSize { get; }

    void Cancel(Status status);

    RpcException CreateException();

    CancellationTokenRegistration RegisterCancel(CancellationToken cancellationToken);

    /// <summary>Throws the call's RpcException after a non-OK end, InvalidOperationException after OK.</summary>
    void ThrowIfFinishedForWrite();
}
