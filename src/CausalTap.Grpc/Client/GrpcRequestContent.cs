using System.IO.Pipelines;
using System.Net;
using System.Net.Http.Headers;
using CausalTap.Grpc.Internal;
using Google.Protobuf;

namespace CausalTap.Grpc.Client;

/// <summary>
/// Request body of a gRPC call. HttpClient calls <see cref="SerializeToStreamAsync(Stream, TransportContext?, CancellationToken)"/>
/// once the request headers are out and keeps the HTTP/2 stream open until the body delegate returns, so a
/// streaming call can push messages whenever the caller writes them (true full duplex).
/// </summary>
internal sealed class GrpcRequestContent : HttpContent
{
    private static readonly MediaTypeHeaderValue GrpcContentType = new(ProtocolHeaders.ContentType);

    /// <summary>Writes the whole body; returning ends the request stream (END_STREAM), throwing resets it.</summary>
    private readonly Func<Stream, CancellationToken, Task> _writeBody;

    public GrpcRequestContent(Func<Stream, CancellationToken, Task> writeBody)
    {
        _writeBody = writeBody;
        Headers.ContentType = GrpcContentType;
    }

    /// <summary>A body of exactly one message (unary and server-streaming calls).</summary>
    public static GrpcRequestContent ForMessage(IMessage message, int maxSendSize) => new(async (stream, ct) =>
    {
        PipeWriter writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        MessageFraming.WriteMessage(writer, message, maxSendSize);
        await writer.FlushAsync(ct).ConfigureAwait(false);
        await writer.CompleteAsync().ConfigureAwait(false);
    });

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        _writeBody(stream, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        _writeBody(stream, cancellationToken);

    // Unknown length: HTTP/2 sends DATA frames as they come and no content-length.
    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}
