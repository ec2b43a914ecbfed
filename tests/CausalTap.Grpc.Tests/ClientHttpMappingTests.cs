using System.Net;
using CausalTap.Grpc.Client;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CausalTap.Grpc.Tests;

/// <summary>
/// Responses a real gRPC peer never sends (proxies, misrouted requests, broken servers), served by a bare
/// h2c Kestrel app: the client must still end each call with the status the spec maps it to.
/// </summary>
public sealed class ClientHttpMappingTests : IAsyncLifetime
{
    private WebApplication? _app;
    private GrpcChannel? _channel;

    public async Task InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        _app = builder.Build();
        _app.MapPost("/t/NotFound", ctx => { ctx.Response.StatusCode = 404; return Task.CompletedTask; });
        _app.MapPost("/t/Unavailable", ctx => { ctx.Response.StatusCode = 503; return Task.CompletedTask; });
        _app.MapPost("/t/Forbidden", ctx => { ctx.Response.StatusCode = 403; return Task.CompletedTask; });
        _app.MapPost("/t/Html", ctx =>
        {
            ctx.Response.ContentType = "text/html";
            return ctx.Response.WriteAsync("<html>proxy page</html>");
        });
        _app.MapPost("/t/NoStatus", ctx =>
        {
            ctx.Response.ContentType = "application/grpc";
            return Task.CompletedTask; // body ends without grpc-status anywhere
        });
        _app.MapPost("/t/TrailersOnly", ctx =>
        {
            ctx.Response.ContentType = "application/grpc";
            ctx.Response.Headers["grpc-status"] = "9";
            ctx.Response.Headers["grpc-message"] = "bad%20state%3A%20%E2%9C%93";
            ctx.Response.Headers["x-padded-bin"] = "AAE="; // padded base64 must be accepted too
            return Task.CompletedTask;
        });
        _app.MapPost("/t/StrangeCode", ctx =>
        {
            ctx.Response.ContentType = "application/grpc";
            ctx.Response.Headers["grpc-status"] = "99";
            return Task.CompletedTask;
        });
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _channel = GrpcChannel.ForAddress(address);
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        if (_app is not null) await _app.DisposeAsync();
    }

    [Theory]
    [InlineData("NotFound", StatusCode.Unimplemented)]
    [InlineData("Unavailable", StatusCode.Unavailable)]
    [InlineData("Forbidden", StatusCode.PermissionDenied)]
    [InlineData("Html", StatusCode.Internal)]
    [InlineData("NoStatus", StatusCode.Internal)]
    [InlineData("StrangeCode", StatusCode.Unknown)]
    public async Task NonGrpcResponses_MapToTheSpecStatus(string name, StatusCode expected)
    {
        using var call = _channel!.UnaryCall(new Method<StringValue, StringValue>(MethodType.Unary, "t", name), new StringValue(),
            new CallOptions(Deadline: DateTime.UtcNow.AddSeconds(20)));
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        Assert.Equal(expected, ex.StatusCode);
    }

    [Fact]
    public async Task TrailersOnly_StatusAndMetadataComeFromTheHeaders()
    {
        using var call = _channel!.ServerStreamingCall(new Method<StringValue, StringValue>(MethodType.ServerStreaming, "t", "TrailersOnly"),
            new StringValue(), new CallOptions(Deadline: DateTime.UtcNow.AddSeconds(20)));
        RpcException ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal("bad state: ✓", ex.Status.Detail);
        Assert.Equal(new byte[] { 0, 1 }, ex.Trailers.GetValueBytes("x-padded-bin"));
    }
}
