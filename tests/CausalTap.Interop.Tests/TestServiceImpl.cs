using Grpc.Core;
using Google.Protobuf;
using Grpc.Testing;

namespace CausalTap.Interop.Tests;

/// <summary>
/// grpc.testing.TestService on grpc-dotnet (the base Grpc.Tools generates from Debian's grpc-proto), the way the
/// tracker server is built, with the server features of grpc/grpc doc/interop-test-descriptions.md: EmptyCall,
/// UnaryCall, StreamingInputCall, StreamingOutputCall, FullDuplexCall, HalfDuplexCall, Echo Status, Echo Metadata
/// and ResponseParameters.interval_us. UnimplementedCall is left to the generated base (UNIMPLEMENTED).
/// expect_compressed=true fails with INVALID_ARGUMENT, as the spec asks of a server without the CompressedRequest
/// feature.
/// </summary>
public sealed class TestServiceImpl : TestService.TestServiceBase
{
    public const string EchoInitialKey = "x-grpc-test-echo-initial";
    public const string EchoTrailingKey = "x-grpc-test-echo-trailing-bin";

    public override async Task<Empty> EmptyCall(Empty request, ServerCallContext context)
    {
        await EchoMetadataAsync(context).ConfigureAwait(false);
        return new Empty();
    }

    public override async Task<SimpleResponse> UnaryCall(SimpleRequest request, ServerCallContext context)
    {
        await EchoMetadataAsync(context).ConfigureAwait(false);
        if (request.ExpectCompressed?.Value == true) throw CompressionUnsupported();
        ThrowIfEchoStatus(request.ResponseStatus);
        if (request.ResponseType != PayloadType.Compressable)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"Unsupported response_type {request.ResponseType}."));
        if (request.ResponseSize < 0)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"Negative response_size {request.ResponseSize}."));
        return new SimpleResponse { Payload = CreatePayload(request.ResponseSize) };
    }

    public override async Task StreamingOutputCall(StreamingOutputCallRequest request, IServerStreamWriter<StreamingOutputCallResponse> responseStream,
        ServerCallContext context)
    {
        await EchoMetadataAsync(context).ConfigureAwait(false);
        ThrowIfEchoStatus(request.ResponseStatus);
        await WriteResponsesAsync(request, responseStream, context).ConfigureAwait(false);
    }

    public override async Task<StreamingInputCallResponse> StreamingInputCall(IAsyncStreamReader<StreamingInputCallRequest> requestStream,
        ServerCallContext context)
    {
        await EchoMetadataAsync(context).ConfigureAwait(false);
        int total = 0;
        while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            StreamingInputCallRequest request = requestStream.Current;
            if (request.ExpectCompressed?.Value == true) throw CompressionUnsupported();
            total += request.Payload?.Body.Length ?? 0;
        }
        return new StreamingInputCallResponse { AggregatedPayloadSize = total };
    }

    public override async Task FullDuplexCall(IAsyncStreamReader<StreamingOutputCallRequest> requestStream,
        IServerStreamWriter<StreamingOutputCallResponse> responseStream, ServerCallContext context)
    {
        await EchoMetadataAsync(context).ConfigureAwait(false);
        while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            StreamingOutputCallRequest request = requestStream.Current;
            ThrowIfEchoStatus(request.ResponseStatus);
            await WriteResponsesAsync(request, responseStream, context).ConfigureAwait(false);
        }
    }

    public override async Task HalfDuplexCall(IAsyncStreamReader<StreamingOutputCallRequest> requestStream,
        IServerStreamWriter<StreamingOutputCallResponse> responseStream, ServerCallContext context)
    {
        await EchoMetadataAsync(context).ConfigureAwait(false);
        var requests = new List<StreamingOutputCallRequest>();
        while (await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false)) requests.Add(requestStream.Current);
        foreach (StreamingOutputCallRequest request in requests)
        {
            ThrowIfEchoStatus(request.ResponseStatus);
            await WriteResponsesAsync(request, responseStream, context).ConfigureAwait(false);
        }
    }

    private static async Task WriteResponsesAsync(StreamingOutputCallRequest request,
        IServerStreamWriter<StreamingOutputCallResponse> responseStream, ServerCallContext context)
    {
        if (request.ResponseType != PayloadType.Compressable)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"Unsupported response_type {request.ResponseType}."));
        foreach (ResponseParameters parameters in request.ResponseParameters)
        {
            if (parameters.IntervalUs > 0)
                await Task.Delay(TimeSpan.FromMicroseconds(parameters.IntervalUs), context.CancellationToken).ConfigureAwait(false);
            if (parameters.Size < 0)
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"Negative response size {parameters.Size}."));
            await responseStream.WriteAsync(new StreamingOutputCallResponse { Payload = CreatePayload(parameters.Size) },
                context.CancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Echo Metadata: the initial key goes back in the response headers, the trailing key in the trailers.</summary>
    private static async Task EchoMetadataAsync(ServerCallContext context)
    {
        Metadata.Entry? initial = context.RequestHeaders.Get(EchoInitialKey);
        Metadata.Entry? trailing = context.RequestHeaders.Get(EchoTrailingKey);
        if (trailing is not null) context.ResponseTrailers.Add(trailing);
        if (initial is not null) await context.WriteResponseHeadersAsync(new Metadata { initial }).ConfigureAwait(false);
    }

    /// <summary>Echo Status: a non-zero response_status ends the call with exactly that code and message.</summary>
    private static void ThrowIfEchoStatus(EchoStatus? status)
    {
        if (status is null || status.Code == 0) return;
        throw new RpcException(new Status((StatusCode)status.Code, status.Message));
    }

    private static RpcException CompressionUnsupported() =>
        new(new Status(StatusCode.InvalidArgument, "Compressed requests are not supported by this server (expect_compressed=true)."));

    private static Payload CreatePayload(int size) =>
        new() { Type = PayloadType.Compressable, Body = ByteString.CopyFrom(new byte[size]) };
}
