using CausalTap.Grpc;
using CausalTap.Grpc.Server;
using Google.Protobuf;
using Grpc.Testing;

namespace CausalTap.Interop.Tests;

/// <summary>
/// grpc.testing.TestService on CausalTap's server API, with the server features of grpc/grpc
/// doc/interop-test-descriptions.md: EmptyCall, UnaryCall, StreamingInputCall, StreamingOutputCall,
/// FullDuplexCall, HalfDuplexCall, Echo Status, Echo Metadata and ResponseParameters.interval_us.
/// UnimplementedCall is deliberately not registered (the registry's catch-all answers UNIMPLEMENTED).
/// Compressed requests are not supported (no grpc-encoding on our transport), so expect_compressed=true
/// fails with INVALID_ARGUMENT, which is what the spec asks of a server without the CompressedRequest feature.
/// </summary>
public sealed class TestServiceImpl
{
    public const string EchoInitialKey = "x-grpc-test-echo-initial";
    public const string EchoTrailingKey = "x-grpc-test-echo-trailing-bin";

    /// <summary>A registry serving this implementation.</summary>
    public static GrpcServiceRegistry CreateRegistry() => new TestServiceImpl().Register(new GrpcServiceRegistry());

    public GrpcServiceRegistry Register(GrpcServiceRegistry registry) => registry
        .AddUnary(TestServiceMethods.EmptyCall, EmptyCall)
        .AddUnary(TestServiceMethods.UnaryCall, UnaryCall)
        .AddServerStreaming(TestServiceMethods.StreamingOutputCall, StreamingOutputCall)
        .AddClientStreaming(TestServiceMethods.StreamingInputCall, StreamingInputCall)
        .AddDuplexStreaming(TestServiceMethods.FullDuplexCall, FullDuplexCall)
        .AddDuplexStreaming(TestServiceMethods.HalfDuplexCall, HalfDuplexCall);

    public async Task<Empty> EmptyCall(Empty request, ServerCallContext context)
    {
        await EchoMetadataAsync(context).ConfigureAwait(false);
        return new Empty();
    }

    public async Task<SimpleResponse> UnaryCall(SimpleRequest request, ServerCallContext context)
    {
        await EchoMetadataAsync(context).ConfigureAwait(false);
        if (request.ExpectCompressed?.Value == true) throw CompressionUnsupported();
        ThrowIfEchoStatus(request.ResponseStatus);
        if (request.ResponseType != PayloadType.Compressable)
            throw new RpcException(StatusCode.InvalidArgument, $"Unsupported response_type {request.ResponseType}.");
        if (request.ResponseSize < 0)
            throw new RpcException(StatusCode.InvalidArgument, $"Negative response_size {request.ResponseSize}.");
        return new SimpleResponse { Payload = CreatePayload(request.ResponseSize) };
    }

    public async Task StreamingOutputCall(StreamingOutputCallRequest request, IServerStreamWriter<StreamingOutputCallResponse> responseStream,
        ServerCallContext context)
    {
        await EchoMetadataAsync(context).ConfigureAwait(false);
        ThrowIfEchoStatus(request.ResponseStatus);
        await WriteResponsesAsync(request, responseStream, context).ConfigureAwait(false);
    }

    public async Task<StreamingInputCallResponse> StreamingInputCall(IAsyncStreamReader<StreamingInputCallRequest> requestStream,
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

    public async Task FullDuplexCall(IAsyncStreamReader<StreamingOutputCallRequest> requestStream,
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

    public async Task HalfDuplexCall(IAsyncStreamReader<StreamingOutputCallRequest> requestStream,
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
            throw new RpcException(StatusCode.InvalidArgument, $"Unsupported response_type {request.ResponseType}.");
        foreach (ResponseParameters parameters in request.ResponseParameters)
        {
            if (parameters.IntervalUs > 0)
                await Task.Delay(TimeSpan.FromMicroseconds(parameters.IntervalUs), context.CancellationToken).ConfigureAwait(false);
            if (parameters.Size < 0)
                throw new RpcException(StatusCode.InvalidArgument, $"Negative response size {parameters.Size}.");
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
        new(StatusCode.InvalidArgument, "Compressed requests are not supported by this server (expect_compressed=true).");

    private static Payload CreatePayload(int size) =>
        new() { Type = PayloadType.Compressable, Body = ByteString.CopyFrom(new byte[size]) };
}
