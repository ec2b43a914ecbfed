using System.IO.Pipelines;
using CausalTap.Grpc.Internal;

namespace CausalTap.Grpc.Client;

/// <summary>Response side of a call: messages off the body, then the status from trailers (or trailers-only headers).</summary>
internal sealed partial class GrpcCall<TRequest, TResponse>
{
    /// <summary>Framing reader over the response body; created by the first read, used by one reader at a time.</summary>
    private PipeReader? _responseReader;

    /// <summary>
    /// Next streamed message, or null at a clean end with status OK.
    /// </summary>
    /// <exception cref="RpcException">The call ended with a non-OK status.</exception>
    public async Task<TResponse?> ReadStreamMessageAsync(CancellationToken cancellationToken)
    {
        ThrowIfFinishedWithError();
        if (IsFinished) return null;
        // A reader giving up on its wait gives up on the call: half-read streams cannot be resumed.
        using CancellationTokenRegistration _ = RegisterCancel(cancellationToken);
        try
        {
            TResponse? message = await ReadRawAsync().ConfigureAwait(false);
            if (message is not null) return message;
            FinishAtEndOfStream(expectMessage: false);
            ThrowIfFinishedWithError();
            return null;
        }
        catch (Exception ex) when (ex is not RpcException || !IsFinished)
        {
            throw Fail(ex);
        }
    }

    /// <summary>The single response of a unary or client-streaming call; started with the call.</summary>
    public async Task<TResponse> ReadSingleResponseAsync()
    {
        try
        {
            TResponse? message = await ReadRawAsync().ConfigureAwait(false);
            if (message is not null && await ReadRawAsync().ConfigureAwait(false) is not null)
            {
                throw new RpcException(StatusCode.Internal, "The server sent more than one response message for a unary response.");
            }
            FinishAtEndOfStream(expectMessage: message is null);
            ThrowIfFinishedWithError();
            return message!;
        }
        catch (Exception ex) when (ex is not RpcException || !IsFinished)
        {
            throw Fail(ex);
        }
    }

    /// <summary>Reads the next framed message; null at end of body. Throws RpcException for limit/framing errors.</summary>
    private async Task<TResponse?> ReadRawAsync()
    {
        HttpResponseMessage? response = await _sendTask.ConfigureAwait(false);
        if (response is null) throw CreateException(); // ended before or at the headers
        if (_responseReader is null)
        {
            Stream body = await response.Content.ReadAsStreamAsync(CallToken).ConfigureAwait(false);
            _responseReader = PipeReader.Create(body);
        }
        return await MessageFraming.ReadMessageAsync(_responseReader, _method.ResponseParser,
            _channel.MaxReceiveMessageSize, CallToken).ConfigureAwait(false);
    }

    /// <summary>Body fully read: the status is in the trailers, or in the headers for a trailers-only response.</summary>
    private void FinishAtEndOfStream(bool expectMessage)
    {
        HttpResponseMessage response;
        lock (_lock)
        {
            if (_trailers is not null) return;
            response = _response!;
        }
        bool trailersOnly = GrpcClientProtocol.HasStatus(response.Headers);
        System.Net.Http.Headers.HttpHeaders source = trailersOnly ? response.Headers : response.TrailingHeaders;
        Status status = GrpcClientProtocol.ReadStatus(source);
        if (status.StatusCode == StatusCode.OK && expectMessage)
        {
            status = new Status(StatusCode.Internal, "The server finished the call with OK but sent no response message.");
        }
        TryFinish(status, GrpcClientProtocol.ReadMetadata(source));
        // Only the reading path gets here, so nobody else is inside the pipe reader.
        _responseReader?.Complete();
    }

    /// <summary>Ends the call after a local failure (limit, framing, transport) and returns what to throw.</summary>
    private RpcException Fail(Exception ex)
    {
        if (!IsFinished)
        {
            // RpcException here is ours (e.g. RESOURCE_EXHAUSTED from the framing); anything else is the transport.
            Cancel(ex is RpcException rpc ? rpc.Status : GrpcClientProtocol.StatusFromException(ex));
        }
        return CreateException();
    }

    private void ThrowIfFinishedWithError()
    {
        lock (_lock)
        {
            if (_status is { } s && s.StatusCode != StatusCode.OK) throw new RpcException(s, _trailers);
        }
    }

    public CancellationTokenRegistration RegisterCancel(CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled
            ? cancellationToken.Register(static s => ((IGrpcCall)s!).Cancel(ClientCancelledStatus), this)
            : default;
}
