using CausalTap.Grpc.Server;
using Google.Protobuf.WellKnownTypes;

namespace CausalTap.Grpc.Tests;

/// <summary>Unary calls against a real Kestrel server, checked on the wire.</summary>
public class ServerUnaryTests
{
    internal static readonly Method<StringValue, StringValue> Echo = new(MethodType.Unary, "test.Echo", "Unary");

    private static Task<ServerTestHarness> StartAsync(UnaryServerMethod<StringValue, StringValue> handler, GrpcServerOptions? options = null) =>
        ServerTestHarness.StartAsync(r => r.AddUnary(Echo, handler), options);

    [Fact]
    public async Task Unary_call_returns_one_message_then_ok_trailers()
    {
        await using var h = await StartAsync((req, ctx) => Task.FromResult(new StringValue { Value = req.Value + "!" }));

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue { Value = "hi" }));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(System.Net.HttpVersion.Version20, response.Version);
        Assert.Equal("application/grpc", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("hi!", Assert.Single(result.Messages).Value);
        Assert.False(result.TrailersOnly);
        Assert.Equal("0", result.Trailer("grpc-status"));
    }

    [Fact]
    public async Task Error_after_headers_goes_in_trailers_with_percent_encoded_unicode_message()
    {
        const string detail = "naïve ☃ 100% sure";
        await using var h = await StartAsync(async (req, ctx) =>
        {
            await ctx.WriteResponseHeadersAsync(new Metadata { { "x-early", "yes" } });
            throw new RpcException(new Status(StatusCode.NotFound, detail), new Metadata { { "x-why", "gone" } });
        });

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue()));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Equal("yes", GrpcResult<StringValue>.Header(response.Headers, "x-early"));
        Assert.Empty(result.Messages);
        Assert.False(result.TrailersOnly);
        Assert.Equal("5", result.Trailer("grpc-status"));
        Assert.Equal("na%C3%AFve %E2%98%83 100%25 sure", result.Trailer("grpc-message"));
        Assert.Equal(detail, result.Detail);
        Assert.Equal("gone", result.Trailer("x-why"));
    }

    [Fact]
    public async Task Error_before_any_output_is_trailers_only()
    {
        await using var h = await StartAsync((req, ctx) =>
            throw new RpcException(new Status(StatusCode.InvalidArgument, "bad input"), new Metadata { { "x-why", "empty" } }));

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue()));
        byte[] body = await response.Content.ReadAsByteArrayAsync();

        Assert.Empty(body);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/grpc", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("3", GrpcResult<StringValue>.Header(response.Headers, "grpc-status"));
        Assert.Equal("bad input", GrpcResult<StringValue>.Header(response.Headers, "grpc-message"));
        Assert.Equal("empty", GrpcResult<StringValue>.Header(response.Headers, "x-why"));
        Assert.Null(GrpcResult<StringValue>.Header(response.TrailingHeaders, "grpc-status"));
    }

    [Fact]
    public async Task Status_set_on_context_without_throwing_is_sent_and_response_dropped()
    {
        await using var h = await StartAsync((req, ctx) =>
        {
            ctx.Status = new Status(StatusCode.PermissionDenied, "no");
            return Task.FromResult(new StringValue { Value = "ignored" });
        });

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue()));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Empty(result.Messages);
        Assert.Equal(StatusCode.PermissionDenied, result.StatusCode);
        Assert.Equal("no", result.Detail);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Handler_exception_becomes_unknown_with_detail_only_when_enabled(bool detailed)
    {
        await using var h = await StartAsync((req, ctx) => throw new InvalidOperationException("secret boom"),
            new GrpcServerOptions { EnableDetailedErrors = detailed });

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue()));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Equal(StatusCode.Unknown, result.StatusCode);
        Assert.StartsWith("Exception was thrown by handler.", result.Detail);
        Assert.Equal(detailed, result.Detail!.Contains("InvalidOperationException: secret boom"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task Unary_request_without_exactly_one_message_is_internal(int count)
    {
        bool invoked = false;
        await using var h = await StartAsync((req, ctx) => { invoked = true; return Task.FromResult(req); });

        var messages = Enumerable.Range(0, count).Select(i => (Google.Protobuf.IMessage)new StringValue { Value = $"m{i}" }).ToArray();
        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, messages));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Equal(StatusCode.Internal, result.StatusCode);
        Assert.Contains(count == 0 ? "no request message" : "Additional data", result.Detail);
        Assert.False(invoked);
    }

    [Fact]
    public async Task Request_message_over_the_receive_limit_is_resource_exhausted()
    {
        await using var h = await StartAsync((req, ctx) => Task.FromResult(req), new GrpcServerOptions { MaxReceiveMessageSize = 16 });

        using var ok = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue { Value = "small" }));
        Assert.Equal(StatusCode.OK, (await ServerTestHarness.ReadToEndAsync(ok, StringValue.Parser)).StatusCode);

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue { Value = new string('x', 100) }));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Equal(StatusCode.ResourceExhausted, result.StatusCode);
        Assert.StartsWith("Received message exceeds the maximum configured message size", result.Detail);
    }

    [Fact]
    public async Task Response_message_over_the_send_limit_is_resource_exhausted()
    {
        await using var h = await StartAsync((req, ctx) => Task.FromResult(new StringValue { Value = new string('y', 100) }),
            new GrpcServerOptions { MaxSendMessageSize = 16 });

        using var response = await h.SendAsync(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue()));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Empty(result.Messages);
        Assert.Equal(StatusCode.ResourceExhausted, result.StatusCode);
        Assert.StartsWith("Sending message exceeds", result.Detail);
    }
}
