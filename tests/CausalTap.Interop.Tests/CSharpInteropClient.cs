using Grpc.Core;
using Grpc.Net.Client;
using Google.Protobuf;
using Grpc.Testing;

namespace CausalTap.Interop.Tests;

/// <summary>A case's assertion failed; the message is the reason reported for the case.</summary>
public sealed class InteropCaseException(string message) : Exception(message);

/// <summary>
/// The interop client cases of grpc/grpc doc/interop-test-descriptions.md on CausalTap's client
/// (<see cref="GrpcChannel"/>). <see cref="RunAsync"/> returns normally when the case passed and throws
/// <see cref="InteropCaseException"/> (or the unexpected exception) when it failed.
/// </summary>
public sealed class CSharpInteropClient
{
    public static readonly string[] AllCases =
    [
        "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong", "empty_stream",
        "cancel_after_begin", "cancel_after_first_response", "timeout_on_sleeping_server",
        "status_code_and_message", "special_status_message", "custom_metadata",
        "unimplemented_method", "unimplemented_service",
    ];

    public const string EchoInitialValue = "test_initial_metadata_value";
    public static readonly byte[] EchoTrailingValue = [0xab, 0xab, 0xab];
    public const string SpecialStatusMessage = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001F608\t\n";

    private static readonly int[] RequestSizes = [27182, 8, 1828, 45904];
    private static readonly int[] ResponseSizes = [31415, 9, 2653, 58979];
    private const int LargeRequestSize = 271828;
    private const int LargeResponseSize = 314159;

    private readonly TestService.TestServiceClient _client;
    private readonly UnimplementedService.UnimplementedServiceClient _unimplementedService;
    private readonly TimeSpan _rpcTimeout;

    public CSharpInteropClient(GrpcChannel channel, TimeSpan? rpcTimeout = null)
    {
        _client = new TestService.TestServiceClient(channel);
        _unimplementedService = new UnimplementedService.UnimplementedServiceClient(channel);
        _rpcTimeout = rpcTimeout ?? TimeSpan.FromSeconds(15);
    }

    public Task RunAsync(string caseName) => caseName switch
    {
        "empty_unary" => EmptyUnaryAsync(),
        "large_unary" => LargeUnaryAsync(),
        "client_streaming" => ClientStreamingAsync(),
        "server_streaming" => ServerStreamingAsync(),
        "ping_pong" => PingPongAsync(),
        "empty_stream" => EmptyStreamAsync(),
        "cancel_after_begin" => CancelAfterBeginAsync(),
        "cancel_after_first_response" => CancelAfterFirstResponseAsync(),
        "timeout_on_sleeping_server" => TimeoutOnSleepingServerAsync(),
        "status_code_and_message" => StatusCodeAndMessageAsync(),
        "special_status_message" => SpecialStatusMessageAsync(),
        "custom_metadata" => CustomMetadataAsync(),
        "unimplemented_method" => UnimplementedMethodAsync(),
        "unimplemented_service" => UnimplementedServiceAsync(),
        _ => throw new ArgumentException($"Unknown interop case '{caseName}'.", nameof(caseName)),
    };

    private CallOptions Options(Metadata? headers = null, CancellationToken token = default) =>
        new(headers: headers, deadline: DateTime.UtcNow + _rpcTimeout, cancellationToken: token);

    private async Task EmptyUnaryAsync()
    {
        Empty response = await UnaryAsync(o => _client.EmptyCallAsync(new Empty(), o));
        Check(response is not null, "no Empty response");
    }

    private async Task LargeUnaryAsync()
    {
        SimpleResponse response = await UnaryAsync(o => _client.UnaryCallAsync(LargeRequest(), o));
        CheckPayload(response.Payload, LargeResponseSize, "response");
    }

    private async Task ClientStreamingAsync()
    {
        using var call = _client.StreamingInputCall(Options());
        foreach (int size in RequestSizes)
            await call.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = Zeros(size) });
        await call.RequestStream.CompleteAsync();
        StreamingInputCallResponse response = await call.ResponseAsync;
        Check(response.AggregatedPayloadSize == RequestSizes.Sum(),
            $"aggregated_payload_size {response.AggregatedPayloadSize}, expected {RequestSizes.Sum()}");
    }

    private async Task ServerStreamingAsync()
    {
        var request = new StreamingOutputCallRequest { ResponseType = PayloadType.Compressable };
        foreach (int size in ResponseSizes) request.ResponseParameters.Add(new ResponseParameters { Size = size });
        using var call = _client.StreamingOutputCall(request, Options());
        var responses = await ReadAllAsync(call.ResponseStream);
        Check(responses.Count == ResponseSizes.Length, $"{responses.Count} responses, expected {ResponseSizes.Length}");
        for (int i = 0; i < responses.Count; i++) CheckPayload(responses[i].Payload, ResponseSizes[i], $"response {i}");
        Check(call.GetStatus().StatusCode == StatusCode.OK, $"status {call.GetStatus()}, expected OK");
    }

    private async Task PingPongAsync()
    {
        using var call = _client.FullDuplexCall(Options());
        for (int i = 0; i < RequestSizes.Length; i++)
        {
            await call.RequestStream.WriteAsync(DuplexRequest(ResponseSizes[i], RequestSizes[i]));
            Check(await call.ResponseStream.MoveNext(), $"stream ended after {i} responses, expected 4");
            CheckPayload(call.ResponseStream.Current.Payload, ResponseSizes[i], $"response {i}");
        }
        await call.RequestStream.CompleteAsync();
        Check(!await call.ResponseStream.MoveNext(), "more than 4 responses");
        Check(call.GetStatus().StatusCode == StatusCode.OK, $"status {call.GetStatus()}, expected OK");
    }

    private async Task EmptyStreamAsync()
    {
        using var call = _client.FullDuplexCall(Options());
        await call.RequestStream.CompleteAsync();
        var responses = await ReadAllAsync(call.ResponseStream);
        Check(responses.Count == 0, $"{responses.Count} responses, expected 0");
        Check(call.GetStatus().StatusCode == StatusCode.OK, $"status {call.GetStatus()}, expected OK");
    }

    private async Task CancelAfterBeginAsync()
    {
        using var cts = new CancellationTokenSource();
        using var call = _client.StreamingInputCall(Options(token: cts.Token));
        cts.Cancel();
        await ExpectRpcError(() => call.ResponseAsync, StatusCode.Cancelled, null, "StreamingInputCall");
    }

    private async Task CancelAfterFirstResponseAsync()
    {
        using var cts = new CancellationTokenSource();
        using var call = _client.FullDuplexCall(Options(token: cts.Token));
        await call.RequestStream.WriteAsync(DuplexRequest(31415, 27182));
        Check(await call.ResponseStream.MoveNext(), "stream ended before the first response");
        CheckPayload(call.ResponseStream.Current.Payload, 31415, "first response");
        cts.Cancel();
        await ExpectRpcError(() => call.ResponseStream.MoveNext(), StatusCode.Cancelled, null, "stream after cancel");
    }

    private async Task TimeoutOnSleepingServerAsync()
    {
        var options = new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(1));
        using var call = _client.FullDuplexCall(options);
        try
        {
            await call.RequestStream.WriteAsync(new StreamingOutputCallRequest { Payload = Zeros(27182) });
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded)
        {
            // The deadline may pass before the write: the call has already ended as the case expects.
            return;
        }
        await ExpectRpcError(() => call.ResponseStream.MoveNext(), StatusCode.DeadlineExceeded, null, "FullDuplexCall");
    }

    private async Task StatusCodeAndMessageAsync()
    {
        var status = new EchoStatus { Code = 2, Message = "test status message" };
        await ExpectRpcError(() => UnaryAsync(o => _client.UnaryCallAsync(new SimpleRequest { ResponseStatus = status }, o)),
            StatusCode.Unknown, status.Message, "UnaryCall");

        using var call = _client.FullDuplexCall(Options());
        await call.RequestStream.WriteAsync(new StreamingOutputCallRequest { ResponseStatus = status });
        await call.RequestStream.CompleteAsync();
        await ExpectRpcError(() => ReadAllAsync(call.ResponseStream), StatusCode.Unknown, status.Message, "FullDuplexCall");
    }

    private Task SpecialStatusMessageAsync()
    {
        var status = new EchoStatus { Code = 2, Message = SpecialStatusMessage };
        return ExpectRpcError(() => UnaryAsync(o => _client.UnaryCallAsync(new SimpleRequest { ResponseStatus = status }, o)),
            StatusCode.Unknown, status.Message, "UnaryCall");
    }

    private async Task CustomMetadataAsync()
    {
        static Metadata EchoHeaders() => new()
        {
            { TestServiceImpl.EchoInitialKey, EchoInitialValue },
            { TestServiceImpl.EchoTrailingKey, EchoTrailingValue },
        };

        using (var unary = _client.UnaryCallAsync(LargeRequest(), Options(EchoHeaders())))
        {
            SimpleResponse response = await unary.ResponseAsync;
            CheckPayload(response.Payload, LargeResponseSize, "UnaryCall response");
            CheckEchoed(await unary.ResponseHeadersAsync, unary.GetTrailers(), "UnaryCall");
        }

        using var call = _client.FullDuplexCall(Options(EchoHeaders()));
        await call.RequestStream.WriteAsync(DuplexRequest(LargeResponseSize, LargeRequestSize));
        await call.RequestStream.CompleteAsync();
        var responses = await ReadAllAsync(call.ResponseStream);
        Check(responses.Count == 1, $"FullDuplexCall: {responses.Count} responses, expected 1");
        CheckPayload(responses[0].Payload, LargeResponseSize, "FullDuplexCall response");
        CheckEchoed(await call.ResponseHeadersAsync, call.GetTrailers(), "FullDuplexCall");
    }

    private Task UnimplementedMethodAsync() =>
        ExpectRpcError(() => UnaryAsync(o => _client.UnimplementedCallAsync(new Empty(), o)),
            StatusCode.Unimplemented, null, "TestService/UnimplementedCall");

    private Task UnimplementedServiceAsync() =>
        ExpectRpcError(() => UnaryAsync(o => _unimplementedService.UnimplementedCallAsync(new Empty(), o)),
            StatusCode.Unimplemented, null, "UnimplementedService/UnimplementedCall");

    // ---- helpers ----

    private async Task<TResponse> UnaryAsync<TResponse>(Func<CallOptions, AsyncUnaryCall<TResponse>> start)
    {
        using AsyncUnaryCall<TResponse> call = start(Options());
        return await call.ResponseAsync;
    }

    private static SimpleRequest LargeRequest() => new()
    {
        ResponseType = PayloadType.Compressable,
        ResponseSize = LargeResponseSize,
        Payload = Zeros(LargeRequestSize),
    };

    private static StreamingOutputCallRequest DuplexRequest(int responseSize, int requestSize)
    {
        var request = new StreamingOutputCallRequest { ResponseType = PayloadType.Compressable, Payload = Zeros(requestSize) };
        request.ResponseParameters.Add(new ResponseParameters { Size = responseSize });
        return request;
    }

    private static Payload Zeros(int size) => new() { Type = PayloadType.Compressable, Body = ByteString.CopyFrom(new byte[size]) };

    private static async Task<List<T>> ReadAllAsync<T>(IAsyncStreamReader<T> reader)
    {
        var list = new List<T>();
        while (await reader.MoveNext(CancellationToken.None)) list.Add(reader.Current);
        return list;
    }

    private static void Check(bool condition, string reason)
    {
        if (!condition) throw new InteropCaseException(reason);
    }

    private static void CheckPayload(Payload? payload, int size, string what)
    {
        Check(payload is not null, $"{what} has no payload");
        Check(payload!.Type == PayloadType.Compressable, $"{what} payload type {payload.Type}, expected COMPRESSABLE");
        Check(payload.Body.Length == size, $"{what} payload is {payload.Body.Length} bytes, expected {size}");
        Check(payload.Body.Span.IndexOfAnyExcept((byte)0) < 0, $"{what} payload is not all zeros");
    }

    private static void CheckEchoed(Metadata headers, Metadata trailers, string what)
    {
        string[] initial = headers.GetAll(TestServiceImpl.EchoInitialKey).Select(e => e.IsBinary ? "<binary>" : e.Value).ToArray();
        Check(initial.Length == 1 && initial[0] == EchoInitialValue,
            $"{what}: initial metadata {TestServiceImpl.EchoInitialKey}=[{string.Join(", ", initial)}], expected [{EchoInitialValue}]");
        string[] trailing = trailers.GetAll(TestServiceImpl.EchoTrailingKey).Select(e => Convert.ToHexString(e.ValueBytes)).ToArray();
        Check(trailing.Length == 1 && trailing[0] == "ABABAB",
            $"{what}: trailing metadata {TestServiceImpl.EchoTrailingKey}=[{string.Join(", ", trailing)}], expected [ABABAB]");
    }

    private static async Task ExpectRpcError(Func<Task> action, StatusCode code, string? detail, string what)
    {
        try
        {
            await action();
        }
        catch (RpcException e)
        {
            Check(e.StatusCode == code, $"{what} ended with {e.StatusCode} ({Quote(e.Status.Detail)}), expected {code}");
            if (detail is not null)
                Check(e.Status.Detail == detail, $"{what} status message {Quote(e.Status.Detail)}, expected {Quote(detail)}");
            return;
        }
        catch (Exception e) when (e is not InteropCaseException)
        {
            throw new InteropCaseException($"{what} threw {e.GetType().Name} ({e.Message}), expected RpcException with {code}");
        }
        throw new InteropCaseException($"{what} succeeded, expected {code}");
    }

    /// <summary>Quotes a status message with its control characters escaped, so whitespace differences are visible.</summary>
    public static string Quote(string s)
    {
        var sb = new System.Text.StringBuilder("\"");
        foreach (char c in s)
        {
            sb.Append(c switch
            {
                '\t' => "\\t",
                '\r' => "\\r",
                '\n' => "\\n",
                '"' => "\\\"",
                '\\' => "\\\\",
                _ => c.ToString(),
            });
        }
        return sb.Append('"').ToString();
    }
}
