using System.Net;
using CausalTap.Grpc.Server;
using Microsoft.Extensions.Logging;
using Google.Protobuf.WellKnownTypes;

namespace CausalTap.Grpc.Tests;

/// <summary>Request validation, unknown paths, encodings and metadata.</summary>
public class ServerProtocolTests
{
    private static readonly Method<StringValue, StringValue> Echo = ServerUnaryTests.Echo;

    private static Task<ServerTestHarness> StartEchoAsync(Action? onInvoke = null) =>
        ServerTestHarness.StartAsync(r => r.AddUnary(Echo, (req, ctx) => { onInvoke?.Invoke(); return Task.FromResult(req); }));

    [Fact]
    public async Task Unknown_method_is_unimplemented_trailers_only()
    {
        await using var h = await StartEchoAsync();

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest("/x.Y/Z", new StringValue()));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.True(result.TrailersOnly);
        Assert.Equal(StatusCode.Unimplemented, result.StatusCode);
        Assert.Equal("Method not found: /x.Y/Z", result.Detail);
    }

    [Fact]
    public async Task Non_grpc_requests_get_http_errors_not_a_handler_call()
    {
        bool invoked = false;
        await using var h = await StartEchoAsync(() => invoked = true);

        using var json = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new ByteArrayContent(ServerTestHarness.Frame(new StringValue())), "application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);

        var get = ServerTestHarness.CreateRequest(Echo.FullName, new StringValue());
        get.Method = HttpMethod.Get;
        using var getResponse = await h.SendAsync(get);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, getResponse.StatusCode);

        using var unknownNonGrpc = await h.SendAsync(ServerTestHarness.CreateRequest("/nothing/here", new ByteArrayContent([]), "text/plain"));
        Assert.Equal(HttpStatusCode.NotFound, unknownNonGrpc.StatusCode);
        Assert.False(invoked);
    }

    [Fact]
    public async Task Application_grpc_proto_content_type_is_accepted()
    {
        await using var h = await StartEchoAsync();
        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName,
            new ByteArrayContent(ServerTestHarness.Frame(new StringValue { Value = "p" })), "application/grpc+proto"));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);
        Assert.Equal(StatusCode.OK, result.StatusCode);
        Assert.Equal("p", Assert.Single(result.Messages).Value);
    }

    [Fact]
    public async Task Gzip_encoding_is_unimplemented_and_advertises_identity()
    {
        bool invoked = false;
        await using var h = await StartEchoAsync(() => invoked = true);

        var request = ServerTestHarness.CreateRequest(Echo.FullName, new StringValue());
        request.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");
        using var response = await h.SendAsync(request);
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Equal(StatusCode.Unimplemented, result.StatusCode);
        Assert.Equal("identity", GrpcResult<StringValue>.Header(response.Headers, "grpc-accept-encoding"));
        Assert.False(invoked);
    }

    [Fact]
    public async Task Compressed_flag_without_negotiated_encoding_is_internal()
    {
        await using var h = await StartEchoAsync();
        byte[] frame = ServerTestHarness.Frame(new StringValue { Value = "z" });
        frame[0] = 1; // claims compression, but no grpc-encoding was sent

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new ByteArrayContent(frame)));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Equal(StatusCode.Internal, result.StatusCode);
        Assert.Contains("compressed", result.Detail);
    }

    [Fact]
    public async Task Custom_metadata_round_trips_including_binary_values()
    {
        Metadata? seen = null;
        await using var h = await ServerTestHarness.StartAsync(r => r.AddUnary(Echo, async (req, ctx) =>
        {
            seen = ctx.RequestHeaders;
            await ctx.WriteResponseHeadersAsync(new Metadata { { "x-echo", ctx.RequestHeaders.GetValue("x-plain")! } });
            ctx.ResponseTrailers.Add("x-bytes-bin", ctx.RequestHeaders.GetValueBytes("x-padded-bin")!);
            return req;
        }));

        var request = ServerTestHarness.CreateRequest(Echo.FullName, new StringValue());
        request.Headers.TryAddWithoutValidation("x-plain", "hello");
        request.Headers.TryAddWithoutValidation("x-padded-bin", "AQI=");   // [1, 2], padded
        request.Headers.TryAddWithoutValidation("x-unpadded-bin", "AQID/w"); // [1, 2, 3, 255], unpadded
        request.Headers.TryAddWithoutValidation("grpc-timeout", "10S");
        using var response = await h.SendAsync(request);
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Equal(StatusCode.OK, result.StatusCode);
        Assert.Equal("hello", GrpcResult<StringValue>.Header(response.Headers, "x-echo"));
        Assert.Equal("AQI", result.Trailer("x-bytes-bin")); // sent unpadded
        Assert.NotNull(seen);
        Assert.Equal(new byte[] { 1, 2 }, seen!.GetValueBytes("x-padded-bin"));
        Assert.Equal(new byte[] { 1, 2, 3, 255 }, seen.GetValueBytes("x-unpadded-bin"));
        Assert.Equal(["x-padded-bin", "x-plain", "x-unpadded-bin"], seen.Select(e => e.Key).Order().ToArray());
    }

    [Fact]
    public async Task Handler_failures_are_logged_with_fixed_event_ids()
    {
        var logs = new CapturingLoggerProvider();
        using var factory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddProvider(logs));
        await using var h = await ServerTestHarness.StartAsync(r => r.AddUnary(Echo, (req, ctx) => throw new InvalidOperationException("boom")),
            loggerFactory: factory);

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue()));
        Assert.Equal(StatusCode.Unknown, (await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser)).StatusCode);

        var ours = logs.Entries.Where(e => e.Category == GrpcEndpointRouteBuilderExtensions.LoggerCategory).ToList();
        Assert.Contains(ours, e => e.EventId == 2 && e.Message.Contains(Echo.FullName)); // handler threw
        Assert.Contains(ours, e => e.EventId == 1 && e.Message.Contains("Unknown"));     // call failed with status
    }
}
